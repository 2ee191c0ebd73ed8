import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import { FRAMEWORKS, Framework } from '../../api/jobs';
import { errorMessage, TzResponseError } from '../../api/request';
import {
  defaultJobName,
  dirname,
  FieldName,
  formErrorsFromServer,
  IFormValues,
  ISubmission,
  normalizePath,
  validateForm
} from '../spec';
import { FormField } from './FormField';

/**
 * The steps of a submission, for the progress text.
 */
export type SubmitStage = 'snapshot' | 'submit';

/**
 * Properties of `SubmitForm`.
 */
export interface ISubmitFormProps {
  trans: TranslationBundle;
  /** The initial values (script, framework and GPUs from the settings). */
  initial: Partial<IFormValues>;
  /** Emits a script path to put in the form (e.g. "Train with TZ" again). */
  scriptRequested: ISignal<unknown, string>;
  /** The `.py` file selected in the file browser, or `null`. */
  pickScript: () => string | null;
  /**
   * Run the submission; throws on failure (a `TzResponseError` carries the
   * server's message and per-field errors).
   */
  onSubmit: (
    submission: ISubmission,
    onStage: (stage: SubmitStage) => void
  ) => Promise<void>;
  /** Called when an error should be notified to the user. */
  onError: (message: string) => void;
  /** Close the form. */
  onCancel: () => void;
}

/**
 * The job submit form (`form.jp-tz-SubmitForm`): script, snapshot folder, name,
 * framework, nodes, processes and GPUs per node, arguments, environment,
 * retries and timeout. Validates on the client, then calls `onSubmit`.
 */
export function SubmitForm(props: ISubmitFormProps): JSX.Element {
  const { trans, initial, scriptRequested, pickScript } = props;
  const [values, setValues] = React.useState<IFormValues>(() => {
    const script = initial.script ?? '';
    return {
      script,
      workdir: '',
      name: script ? defaultJobName(script) : '',
      framework: 'pytorch',
      nodes: '1',
      procs_per_node: '1',
      gpus: '0',
      args: '',
      env: '',
      max_retries: '0',
      timeout: '0',
      ...initial
    };
  });
  const [errors, setErrors] = React.useState<
    Partial<Record<FieldName, string>>
  >({});
  const [stage, setStage] = React.useState<SubmitStage | null>(null);
  // The name follows the script until the user types one.
  const nameTouched = React.useRef(!!initial.name);

  const setScript = React.useCallback((script: string) => {
    setValues(v => ({
      ...v,
      script,
      name: nameTouched.current ? v.name : defaultJobName(script)
    }));
    setErrors(e => ({ ...e, script: undefined, workdir: undefined }));
  }, []);

  React.useEffect(() => {
    const slot = (_: unknown, script: string) => setScript(script);
    scriptRequested.connect(slot);
    return () => {
      scriptRequested.disconnect(slot);
    };
  }, [scriptRequested, setScript]);

  const update =
    (field: FieldName) =>
    (
      event: React.ChangeEvent<
        HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement
      >
    ) => {
      const value = event.target.value;
      if (field === 'script') {
        setScript(value);
        return;
      }
      if (field === 'name') {
        nameTouched.current = value.trim() !== '';
      }
      setValues(v => ({ ...v, [field]: value }));
      setErrors(e => ({ ...e, [field]: undefined }));
    };

  const onPick = () => {
    const picked = pickScript();
    if (picked) {
      setScript(picked);
    } else {
      setErrors(e => ({
        ...e,
        script: trans.__('Select a .py file in the file browser first')
      }));
    }
  };

  const onSubmit = async (event: React.FormEvent) => {
    event.preventDefault();
    if (stage) {
      return;
    }
    const result = validateForm(values);
    if (!result.ok) {
      setErrors(result.errors);
      return;
    }
    setErrors({});
    setStage('snapshot');
    try {
      await props.onSubmit(result.submission, setStage);
    } catch (error) {
      if (error instanceof TzResponseError) {
        setErrors(formErrorsFromServer(error.errors));
      }
      props.onError(errorMessage(error));
    } finally {
      setStage(null);
    }
  };

  const field = (name: FieldName) => ({
    id: `jp-tz-SubmitForm-${name}`,
    name,
    value: values[name],
    onChange: update(name),
    disabled: stage !== null,
    'aria-invalid': errors[name] ? true : undefined,
    'aria-describedby': errors[name]
      ? `jp-tz-SubmitForm-${name}-error`
      : undefined
  });

  /** A whole-number field of the grid (nodes, processes, GPUs, retries, timeout). */
  const numberField = (
    name: FieldName,
    label: string,
    min: number,
    hint?: string
  ): JSX.Element => (
    <FormField
      id={`jp-tz-SubmitForm-${name}`}
      label={label}
      error={errors[name]}
      hint={hint}
    >
      <input
        {...field(name)}
        className="jp-mod-styled jp-tz-Input"
        type="number"
        min={min}
        step={1}
      />
    </FormField>
  );

  let folder = '';
  try {
    folder = values.workdir.trim()
      ? normalizePath(values.workdir)
      : dirname(normalizePath(values.script));
  } catch {
    // Reported on submit.
  }
  const folderHint = values.script.trim()
    ? trans.__(
        'Uploaded as the job working directory: %1',
        folder || trans.__('the Lab root')
      )
    : trans.__("Empty: the script's folder");

  const progress =
    stage === 'snapshot'
      ? trans.__(
          'Uploading a snapshot of %1…',
          folder || trans.__('the Lab root')
        )
      : stage === 'submit'
        ? trans.__('Submitting the job…')
        : '';

  return (
    <form className="jp-tz-SubmitForm" onSubmit={onSubmit} noValidate>
      <h2 className="jp-tz-SubmitForm-title">{trans.__('New training job')}</h2>
      <div className="jp-tz-SubmitForm-grid">
        <FormField
          id="jp-tz-SubmitForm-script"
          label={trans.__('Script')}
          error={errors.script}
          hint={trans.__(
            'Path relative to the Lab root, e.g. project/train.py'
          )}
          wide
        >
          <div className="jp-tz-SubmitForm-script">
            <input
              {...field('script')}
              className="jp-mod-styled jp-tz-Input"
              type="text"
              placeholder="project/train.py"
              autoComplete="off"
              spellCheck={false}
            />
            <button
              type="button"
              className="jp-tz-Button jp-tz-PickScriptButton"
              onClick={onPick}
              disabled={stage !== null}
              title={trans.__('Use the .py file selected in the file browser')}
            >
              {trans.__('Pick from file browser')}
            </button>
          </div>
        </FormField>
        <FormField
          id="jp-tz-SubmitForm-workdir"
          label={trans.__('Snapshot folder')}
          error={errors.workdir}
          hint={folderHint}
          wide
        >
          <input
            {...field('workdir')}
            className="jp-mod-styled jp-tz-Input"
            type="text"
            placeholder={trans.__("(the script's folder)")}
            autoComplete="off"
            spellCheck={false}
          />
        </FormField>
        <FormField
          id="jp-tz-SubmitForm-name"
          label={trans.__('Name')}
          error={errors.name}
        >
          <input
            {...field('name')}
            className="jp-mod-styled jp-tz-Input"
            type="text"
            maxLength={63}
            autoComplete="off"
            spellCheck={false}
          />
        </FormField>
        <FormField
          id="jp-tz-SubmitForm-framework"
          label={trans.__('Framework')}
          error={errors.framework}
        >
          <select {...field('framework')} className="jp-mod-styled jp-tz-Input">
            {FRAMEWORKS.map((framework: Framework) => (
              <option key={framework} value={framework}>
                {framework}
              </option>
            ))}
          </select>
        </FormField>
        {numberField('nodes', trans.__('Nodes'), 1)}
        {numberField('procs_per_node', trans.__('Processes per node'), 1)}
        {numberField('gpus', trans.__('GPUs per node'), 0)}
        {numberField('max_retries', trans.__('Max retries'), 0)}
        {numberField(
          'timeout',
          trans.__('Timeout (seconds)'),
          0,
          trans.__('0 = no timeout')
        )}
        <FormField
          id="jp-tz-SubmitForm-args"
          label={trans.__('Arguments')}
          error={errors.args}
          hint={trans.__(
            'Split like a shell command line: --lr 0.1 --tag "a b"'
          )}
          wide
        >
          <input
            {...field('args')}
            className="jp-mod-styled jp-tz-Input jp-tz-Monospace"
            type="text"
            autoComplete="off"
            spellCheck={false}
          />
        </FormField>
        <FormField
          id="jp-tz-SubmitForm-env"
          label={trans.__('Environment')}
          error={errors.env}
          hint={trans.__('One KEY=VALUE per line; TZ_* names are reserved')}
          wide
        >
          <textarea
            {...field('env')}
            className="jp-mod-styled jp-tz-Input jp-tz-Monospace"
            rows={4}
            spellCheck={false}
          />
        </FormField>
      </div>
      <div className="jp-tz-SubmitForm-actions">
        <span className="jp-tz-SubmitForm-progress" aria-live="polite">
          {progress}
        </span>
        <button
          type="button"
          className="jp-tz-Button"
          onClick={props.onCancel}
          disabled={stage !== null}
        >
          {trans.__('Cancel')}
        </button>
        <button
          type="submit"
          className="jp-tz-Button jp-mod-accept jp-tz-SubmitButton"
          disabled={stage !== null}
        >
          {trans.__('Submit')}
        </button>
      </div>
    </form>
  );
}
