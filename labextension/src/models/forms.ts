/**
 * Pure parts of the Convert, Evaluate and Register dialogs: their drafts (what
 * the fields hold, as text), defaults, and the request bodies built from them
 * with the first problem found. No DOM (unit-tested).
 */
import type {
  ConversionTarget,
  EvaluationTask,
  IConvertBody,
  IEvaluateBody
} from '../api/models';
import { isModelName } from './comparison';

/**
 * The fields of the Convert dialog.
 */
export interface IConvertDraft {
  to: ConversionTarget;
  opset: string;
  toleranceAbs: string;
  toleranceRel: string;
  samples: string;
  dataset: string;
  split: string;
}

/**
 * The fields of the Evaluate dialog.
 */
export interface IEvaluateDraft {
  dataset: string;
  split: string;
  task: EvaluationTask;
  batchSize: string;
  target: string;
  script: string;
}

/**
 * The fields of the Register model dialog.
 */
export interface IRegisterDraft {
  name: string;
  path: string;
  description: string;
}

/**
 * A body, or the message of the first field that is wrong.
 */
export type Checked<T> = { ok: true; body: T } | { ok: false; error: string };

/**
 * The conversion targets that apply to a source format (the service's rule):
 * a PyTorch state dict converts to ONNX and TorchScript, ONNX compresses to
 * INT8 and FP16; other formats convert to nothing.
 *
 * @param format - the source version's format.
 * @returns the targets, most useful first.
 */
export function conversionTargets(format: string): ConversionTarget[] {
  switch (format) {
    case 'pytorch-state-dict':
      return ['onnx', 'torchscript'];
    case 'onnx':
      return ['int8', 'fp16'];
    default:
      return [];
  }
}

/**
 * The parity tolerances `[abs, rel]` the conversion worker uses when none is
 * given (shown as placeholders).
 */
export const DEFAULT_TOLERANCES: Readonly<
  Record<ConversionTarget, [number, number]>
> = {
  onnx: [1e-4, 1e-3],
  torchscript: [1e-4, 1e-3],
  fp16: [1e-2, 1e-2],
  int8: [0.1, 0.05]
};

/**
 * The Convert dialog's initial fields for a source format: tolerances and
 * samples empty (the worker's defaults per target apply).
 */
export function defaultConvertDraft(format: string): IConvertDraft {
  return {
    to: conversionTargets(format)[0] ?? 'onnx',
    opset: '17',
    toleranceAbs: '',
    toleranceRel: '',
    samples: '',
    dataset: '',
    split: 'test'
  };
}

/**
 * The evaluation task that fits a model task.
 */
export function evaluationTaskFor(
  task: string | null | undefined
): EvaluationTask {
  switch (task) {
    case 'image_classification':
    case 'tabular_classification':
    case 'regression':
      return task;
    default:
      return 'custom';
  }
}

/**
 * The Evaluate dialog's initial fields for a model task.
 */
export function defaultEvaluateDraft(
  task: string | null | undefined
): IEvaluateDraft {
  return {
    dataset: '',
    split: 'test',
    task: evaluationTaskFor(task),
    batchSize: '32',
    target: '',
    script: ''
  };
}

/**
 * A number from a field: empty gives undefined; anything that is not a
 * finite number (or not above `min`) gives NaN.
 */
function numberOf(
  text: string,
  min: number,
  integer: boolean
): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') {
    return undefined;
  }
  const value = Number(trimmed);
  if (
    !Number.isFinite(value) ||
    value < min ||
    (integer && !Number.isInteger(value))
  ) {
    return NaN;
  }
  return value;
}

/**
 * Whether a string looks like a dataset version ref: `[owner/]name[:V001]`.
 */
export function isDatasetRef(ref: string): boolean {
  return /^([A-Za-z0-9._@-]+\/)?[a-z0-9][a-z0-9_-]{0,62}(:V?\d+)?$/.test(ref);
}

/**
 * The body of `POST .../convert` from the dialog's fields.
 */
export function convertBody(draft: IConvertDraft): Checked<IConvertBody> {
  const body: IConvertBody = { to: draft.to };
  if (draft.to === 'onnx') {
    const opset = numberOf(draft.opset, 7, true);
    if (Number.isNaN(opset)) {
      return { ok: false, error: 'opset: a whole number of at least 7' };
    }
    if (opset !== undefined) {
      body.opset = opset;
    }
  }
  const abs = numberOf(draft.toleranceAbs, 0, false);
  const rel = numberOf(draft.toleranceRel, 0, false);
  if (Number.isNaN(abs)) {
    return { ok: false, error: 'tolerance abs: a number of at least 0' };
  }
  if (Number.isNaN(rel)) {
    return { ok: false, error: 'tolerance rel: a number of at least 0' };
  }
  if (abs !== undefined || rel !== undefined) {
    body.tolerance = {};
    if (abs !== undefined) {
      body.tolerance.abs = abs;
    }
    if (rel !== undefined) {
      body.tolerance.rel = rel;
    }
  }
  const samples = numberOf(draft.samples, 1, true);
  if (Number.isNaN(samples)) {
    return { ok: false, error: 'samples: a whole number of at least 1' };
  }
  if (samples !== undefined) {
    body.samples = samples;
  }
  const dataset = draft.dataset.trim();
  if (dataset) {
    if (!isDatasetRef(dataset)) {
      return { ok: false, error: 'dataset: a ref such as owner/name:V001' };
    }
    body.dataset = dataset;
    if (draft.split.trim()) {
      body.split = draft.split.trim();
    }
  }
  return { ok: true, body };
}

/**
 * The body of `POST .../evaluate` from the dialog's fields.
 */
export function evaluateBody(draft: IEvaluateDraft): Checked<IEvaluateBody> {
  const dataset = draft.dataset.trim();
  if (!dataset) {
    return { ok: false, error: 'dataset: required (e.g. owner/name:V001)' };
  }
  if (!isDatasetRef(dataset)) {
    return { ok: false, error: 'dataset: a ref such as owner/name:V001' };
  }
  const body: IEvaluateBody = { dataset, task: draft.task };
  if (draft.split.trim()) {
    body.split = draft.split.trim();
  }
  const batch = numberOf(draft.batchSize, 1, true);
  if (Number.isNaN(batch)) {
    return { ok: false, error: 'batch size: a whole number of at least 1' };
  }
  if (batch !== undefined) {
    body.batch_size = batch;
  }
  if (draft.target.trim()) {
    body.target = draft.target.trim();
  }
  if (draft.task === 'custom') {
    if (!draft.script.trim()) {
      return { ok: false, error: 'script: required for a custom evaluation' };
    }
    body.script = draft.script.trim();
  }
  return { ok: true, body };
}

/**
 * Check the Register model dialog's fields.
 *
 * @returns the cleaned fields, or the first problem.
 */
export function registerDraft(draft: IRegisterDraft): Checked<IRegisterDraft> {
  const name = draft.name.trim();
  if (!isModelName(name)) {
    return {
      ok: false,
      error: 'name: lower-case letters, digits, - and _ (at most 63)'
    };
  }
  const path = draft.path.trim().replace(/^\/+|\/+$/g, '');
  if (!path || path.split('/').some(p => p === '..' || p === '.')) {
    return { ok: false, error: 'folder: a folder inside the job output' };
  }
  return {
    ok: true,
    body: { name, path, description: draft.description.trim() }
  };
}
