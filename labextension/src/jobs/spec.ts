/**
 * Pure helpers of the submit form: shell-like argument splitting, `KEY=VALUE`
 * parsing, path handling and the validation that turns form values into a
 * job spec. No DOM, no JupyterLab imports (unit-tested in `__tests__`).
 */
import type { Framework, IJobSpec } from '../api/jobs';

/**
 * The raw values of the submit form (all strings, as typed).
 */
export interface IFormValues {
  /** The script path, relative to the Lab root. */
  script: string;
  /** The folder to snapshot, relative to the Lab root (empty: the script's folder). */
  workdir: string;
  name: string;
  framework: Framework;
  nodes: string;
  procs_per_node: string;
  gpus: string;
  args: string;
  env: string;
  max_retries: string;
  timeout: string;
}

/**
 * Form field names, as used in `IFormValues` and the inputs' `name`.
 */
export type FieldName = keyof IFormValues;

/**
 * A validated submission: the folder to snapshot and the spec without its
 * snapshot id (known only after the upload).
 */
export interface ISubmission {
  /** The folder to snapshot, relative to the Lab root (`''` is the root). */
  folder: string;
  /** The job spec; `snapshot` is filled in after the upload. */
  spec: IJobSpec;
}

/**
 * The result of `validateForm`: a submission, or messages per field.
 */
export type ValidationResult =
  | { ok: true; submission: ISubmission }
  | { ok: false; errors: Partial<Record<FieldName, string>> };

/**
 * Job names accepted by the API.
 */
export const NAME_PATTERN = /^[a-zA-Z0-9._-]{1,63}$/;

/**
 * Environment variable names accepted by the API.
 */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Split a command line into arguments like a POSIX shell, without expansion:
 * whitespace separates, single quotes keep everything, double quotes keep
 * everything but `\"`, `\\`, `\$` and `` \` `` escapes, and a backslash outside
 * quotes escapes the next character.
 *
 * @param text - the command line, e.g. `--lr 0.1 --name "my run"`.
 * @returns the arguments.
 * @throws {Error} on an unterminated quote or a trailing backslash.
 */
export function splitArgs(text: string): string[] {
  const args: string[] = [];
  let current = '';
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) {
        throw new Error('Unterminated single quote');
      }
      current += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < text.length) {
        const d = text[i];
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (
          d === '\\' &&
          i + 1 < text.length &&
          '"\\$`'.includes(text[i + 1])
        ) {
          current += text[i + 1];
          i += 2;
        } else {
          current += d;
          i++;
        }
      }
      if (!closed) {
        throw new Error('Unterminated double quote');
      }
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 >= text.length) {
        throw new Error('Trailing backslash');
      }
      // A backslash-newline is a line continuation, as in a shell.
      if (text[i + 1] !== '\n') {
        current += text[i + 1];
        inWord = true;
      }
      i += 2;
    } else if (/\s/.test(c)) {
      if (inWord) {
        args.push(current);
        current = '';
        inWord = false;
      }
      i++;
    } else {
      current += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) {
    args.push(current);
  }
  return args;
}

/**
 * Parse `KEY=VALUE` lines. Blank lines and lines starting with `#` are skipped;
 * the value is everything after the first `=` (may be empty).
 *
 * @param text - the lines.
 * @returns the variables.
 * @throws {Error} naming the first bad line (no `=`, a bad name, a reserved
 *   `TZ_` name or a duplicate).
 */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) {
      return;
    }
    const where = `line ${index + 1}`;
    const eq = line.indexOf('=');
    if (eq < 0) {
      throw new Error(`${where}: expected KEY=VALUE`);
    }
    const key = line.slice(0, eq).trim();
    if (!ENV_NAME_PATTERN.test(key)) {
      throw new Error(`${where}: invalid variable name "${key}"`);
    }
    if (key.startsWith('TZ_')) {
      throw new Error(`${where}: TZ_* variables are reserved`);
    }
    if (Object.prototype.hasOwnProperty.call(env, key)) {
      throw new Error(`${where}: ${key} is set twice`);
    }
    env[key] = raw.slice(raw.indexOf('=') + 1);
  });
  return env;
}

/**
 * Normalize a Lab path: forward slashes, no leading/trailing slash, no `.`
 * segments.
 *
 * @param path - a path relative to the Lab root.
 * @returns the normalized path (`''` for the root).
 * @throws {Error} when the path leaves the root (`..`).
 */
export function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const part of path.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') {
      continue;
    }
    if (part === '..') {
      throw new Error('Paths must stay inside the Lab root');
    }
    parts.push(part);
  }
  return parts.join('/');
}

/**
 * The folder part of a normalized path (`''` for a file at the root).
 *
 * @param path - a normalized path.
 * @returns its folder.
 */
export function dirname(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/**
 * A valid job name derived from a script path, e.g. `train` for `a/train.py`.
 *
 * @param script - the script path.
 * @returns a name matching `NAME_PATTERN`.
 */
export function defaultJobName(script: string): string {
  const base = script.replace(/\\/g, '/').split('/').pop() ?? '';
  const stem = base.replace(/\.py$/i, '');
  const name = stem
    .replace(/[^a-zA-Z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 63);
  return name || 'job';
}

/**
 * Parse an integer field.
 *
 * @param text - the typed value.
 * @param min - the smallest accepted value.
 * @returns the number, or an error message.
 */
export function parseInteger(
  text: string,
  min: number
): { value: number } | { error: string } {
  const trimmed = text.trim();
  if (!/^[+-]?\d+$/.test(trimmed)) {
    return { error: 'Enter a whole number' };
  }
  const value = Number(trimmed);
  if (!Number.isSafeInteger(value)) {
    return { error: 'Number too large' };
  }
  if (value < min) {
    return { error: `Must be at least ${min}` };
  }
  return { value };
}

/**
 * Validate the form and build the submission.
 *
 * The snapshot folder defaults to the script's folder; the entry is the script
 * path relative to that folder.
 *
 * @param values - the form values.
 * @returns the submission, or the messages per field.
 */
export function validateForm(values: IFormValues): ValidationResult {
  const errors: Partial<Record<FieldName, string>> = {};

  let script = '';
  let folder = '';
  try {
    script = normalizePath(values.script);
    if (!script) {
      errors.script = 'Choose a script';
    }
  } catch (e) {
    errors.script = (e as Error).message;
  }
  try {
    folder = values.workdir.trim()
      ? normalizePath(values.workdir)
      : dirname(script);
  } catch (e) {
    errors.workdir = (e as Error).message;
  }
  if (script && !errors.workdir && folder && !script.startsWith(`${folder}/`)) {
    errors.workdir = 'The script must be inside this folder';
  }
  const entry = folder ? script.slice(folder.length + 1) : script;

  const name = values.name.trim();
  if (!NAME_PATTERN.test(name)) {
    errors.name = '1-63 characters: letters, digits, ".", "_" or "-"';
  }

  const ints: Record<string, number> = {};
  const bounds: [FieldName, number][] = [
    ['nodes', 1],
    ['procs_per_node', 1],
    ['gpus', 0],
    ['max_retries', 0],
    ['timeout', 0]
  ];
  for (const [field, min] of bounds) {
    const parsed = parseInteger(values[field], min);
    if ('error' in parsed) {
      errors[field] = parsed.error;
    } else {
      ints[field] = parsed.value;
    }
  }

  let args: string[] = [];
  try {
    args = splitArgs(values.args);
  } catch (e) {
    errors.args = (e as Error).message;
  }
  let env: Record<string, string> = {};
  try {
    env = parseEnv(values.env);
  } catch (e) {
    errors.env = (e as Error).message;
  }

  if (Object.keys(errors).length > 0) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    submission: {
      folder,
      spec: {
        name,
        framework: values.framework,
        entry,
        args,
        env,
        nodes: ints.nodes,
        procs_per_node: ints.procs_per_node,
        resources_per_node: { gpus: ints.gpus },
        max_retries: ints.max_retries,
        timeout: ints.timeout
      }
    }
  };
}

/**
 * Map the API's per-field errors (`{"errors": {field: msg}}`) onto form fields.
 *
 * @param errors - the server's errors.
 * @returns messages per form field; unknown fields are dropped.
 */
export function formErrorsFromServer(
  errors: Record<string, string>
): Partial<Record<FieldName, string>> {
  const map: Record<string, FieldName> = {
    name: 'name',
    framework: 'framework',
    entry: 'script',
    snapshot: 'workdir',
    path: 'workdir',
    args: 'args',
    env: 'env',
    nodes: 'nodes',
    procs_per_node: 'procs_per_node',
    resources_per_node: 'gpus',
    'resources_per_node.gpus': 'gpus',
    max_retries: 'max_retries',
    timeout: 'timeout'
  };
  const result: Partial<Record<FieldName, string>> = {};
  for (const [key, message] of Object.entries(errors)) {
    const field = map[key] ?? map[key.split(/[.[]/)[0]];
    if (field && !result[field]) {
      result[field] = message;
    }
  }
  return result;
}
