/**
 * Small formatting helpers shared by the jobs components.
 */
import { Time } from '@jupyterlab/coreutils';
import { TranslationBundle } from '@jupyterlab/translation';

import { IJob } from '../api/jobs';

/**
 * The GPUs per node of a job (0 when the spec names none).
 *
 * @param job - the job.
 * @returns the GPUs per node.
 */
export function gpusPerNode(job: IJob): number {
  return job.spec?.resources_per_node?.gpus ?? 0;
}

/**
 * The nodes of a job (1 when the spec names none).
 *
 * @param job - the job.
 * @returns the node count.
 */
export function nodesOf(job: IJob): number {
  return job.spec?.nodes ?? 1;
}

/**
 * The processes per node of a job (1 when the spec names none).
 *
 * @param job - the job.
 * @returns the process count per node.
 */
export function procsOf(job: IJob): number {
  return job.spec?.procs_per_node ?? 1;
}

/**
 * "2 × 4": nodes × processes per node.
 *
 * @param job - the job.
 * @returns the label.
 */
export function shapeLabel(job: IJob): string {
  return `${nodesOf(job)} × ${procsOf(job)}`;
}

/**
 * The GPUs of a job in total, e.g. "8 GPUs" or "CPU only".
 *
 * @param job - the job.
 * @param trans - the translation bundle.
 * @returns the label.
 */
export function gpuLabel(job: IJob, trans: TranslationBundle): string {
  const total = gpusPerNode(job) * nodesOf(job);
  return total === 0
    ? trans.__('CPU only')
    : trans._n('%1 GPU', '%1 GPUs', total);
}

/**
 * A relative time such as "3 minutes ago"; empty for a missing time.
 *
 * @param time - an ISO 8601 timestamp.
 * @returns the label.
 */
export function ago(time: string | null | undefined): string {
  return time ? Time.formatHuman(new Date(time)) : '';
}

/**
 * A local date and time; empty for a missing time.
 *
 * @param time - an ISO 8601 timestamp.
 * @returns the label.
 */
export function when(time: string | null | undefined): string {
  return time ? Time.format(new Date(time)) : '';
}

/**
 * A duration such as "1h 02m 03s" between two times (or until now).
 *
 * @param start - the ISO 8601 start.
 * @param end - the ISO 8601 end; now when missing.
 * @returns the label; empty without a start.
 */
export function duration(
  start: string | null | undefined,
  end?: string | null
): string {
  if (!start) {
    return '';
  }
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0
    ? `${h}h ${pad(m)}m ${pad(s)}s`
    : m > 0
      ? `${m}m ${pad(s)}s`
      : `${s}s`;
}
