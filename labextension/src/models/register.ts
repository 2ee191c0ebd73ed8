/**
 * The link between the jobs UI and the models plugin for "Register model" on
 * a succeeded job: the models plugin installs the handler when it activates;
 * the button in the job view asks for it, and hides without it.
 */

/**
 * Registers the model a job wrote (asks for the name and folder).
 */
export type RegisterFromJob = (jobId: string, jobName: string) => void;

let handler: RegisterFromJob | null = null;

/**
 * Install (or remove, with null) the handler.
 */
export function setRegisterFromJob(next: RegisterFromJob | null): void {
  handler = next;
}

/**
 * The installed handler, null when the models plugin is not active.
 */
export function registerFromJobHandler(): RegisterFromJob | null {
  return handler;
}
