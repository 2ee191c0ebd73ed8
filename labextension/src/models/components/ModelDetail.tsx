import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import {
  deleteModel,
  deleteModelVersion,
  getHistory,
  getModel,
  getRun,
  IModel,
  IModelVersion,
  IRun,
  IStageMove,
  listModelVersions,
  listRuns,
  setStage,
  Stage
} from '../../api/models';
import { errorMessage } from '../../api/request';
import { Loading } from '../../components/Loading';
import { Section } from '../../components/Section';
import { Unavailable } from '../../components/Unavailable';
import { useBusy } from '../../hooks';
import { ago, when } from '../../jobs/format';
import {
  confirmDelete,
  confirmStage,
  convertFlow,
  evaluateFlow
} from '../actions';
import { versionKey } from '../comparison';
import { RunRow } from './RunRow';
import { StageHistory } from './StageHistory';
import { VersionDetail } from './VersionDetail';
import { VersionsTable } from './VersionsTable';

/**
 * Properties of `ModelDetail`.
 */
export interface IModelDetailProps {
  modelId: string;
  /** The version to select first (the latest when null). */
  initialVersion: number | null;
  /** Emits versions to select (the view was opened again for a version). */
  versionRequested: ISignal<unknown, number>;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
  rendermime: IRenderMimeRegistry | null;
  onError: (message: string) => void;
  onOpenJob: (id: string) => void;
  onOpenDataset: (id: string) => void;
  onOpenModel: (modelId: string, version: number | null) => void;
  /** Open the comparison of `mdl-id:N` keys. */
  onCompare: (versions: string[]) => void;
  /** Called with the model whenever it is (re)loaded. */
  onLoaded: (model: IModel) => void;
  /** Something the Models panel shows changed (stage, versions). */
  onChanged: () => void;
  /** The model was deleted: close the view. */
  onDeleted: () => void;
}

/**
 * The view of one model: header (name, owner, task, visibility, Compare
 * selected), the versions table, conversion and evaluation runs with live
 * status, the selected version's detail, and the stage history.
 */
export function ModelDetail(props: IModelDetailProps): JSX.Element {
  const { modelId, settings, trans, rendermime, onError } = props;
  const [model, setModel] = React.useState<IModel | null>(null);
  const [versions, setVersions] = React.useState<IModelVersion[]>([]);
  const [history, setHistory] = React.useState<IStageMove[]>([]);
  const [runs, setRuns] = React.useState<IRun[]>([]);
  const [selected, setSelected] = React.useState<number | null>(
    props.initialVersion
  );
  const [checked, setChecked] = React.useState<ReadonlySet<number>>(new Set());
  const [error, setError] = React.useState<string | null>(null);
  const [busy, act] = useBusy(onError);
  const [revision, setRevision] = React.useState(0);
  const [focusEvaluation, setFocusEvaluation] = React.useState<string | null>(
    null
  );

  const reload = React.useCallback(async () => {
    try {
      const [m, v, h, r] = await Promise.all([
        getModel(modelId, settings),
        listModelVersions(modelId, settings),
        getHistory(modelId, settings).catch(() => [] as IStageMove[]),
        listRuns(modelId, '', settings).catch(() => [] as IRun[])
      ]);
      setModel(m);
      setVersions(v);
      setHistory(h);
      setRuns(r);
      setError(null);
      setRevision(n => n + 1);
      props.onLoaded(m);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [modelId]);
  React.useEffect(() => void reload(), [reload]);

  React.useEffect(() => {
    const slot = (_: unknown, version: number) => setSelected(version);
    props.versionRequested.connect(slot);
    return () => {
      props.versionRequested.disconnect(slot);
    };
  }, [props.versionRequested]);

  // Select the latest version once listed, or when the selected one is gone.
  React.useEffect(() => {
    if (
      versions.length > 0 &&
      (selected === null || !versions.some(v => v.version === selected))
    ) {
      setSelected(versions[0].version);
    }
  }, [versions]);

  const onStage = (version: IModelVersion, to: Stage) =>
    void act(async () => {
      const comment = await confirmStage(
        version,
        to,
        model?.production_version ?? null,
        trans
      );
      if (comment === null) {
        return;
      }
      await setStage(version.model_id, version.version, to, comment, settings);
      await reload();
      props.onChanged();
    });

  const onDeleteVersion = (version: IModelVersion) =>
    void act(async () => {
      const ok = await confirmDelete(
        trans.__('Delete version'),
        trans.__(
          'Delete %1 and its files? This cannot be undone.',
          version.ref
        ),
        trans
      );
      if (!ok) {
        return;
      }
      await deleteModelVersion(version.model_id, version.version, settings);
      await reload();
      props.onChanged();
    });
  const onDeleteModel = () =>
    void act(async () => {
      if (!model) {
        return;
      }
      const ok = await confirmDelete(
        trans.__('Delete model'),
        trans._n(
          'Delete the model %2 with its %1 version and its files? This cannot be undone.',
          'Delete the model %2 with its %1 versions and their files? This cannot be undone.',
          model.versions,
          `${model.owner}/${model.name}`
        ),
        trans
      );
      if (!ok) {
        return;
      }
      await deleteModel(model.id, settings);
      props.onChanged();
      props.onDeleted();
    });

  const started = (run: IRun | null) => {
    if (run) {
      setRuns(current => [run, ...current.filter(r => r.id !== run.id)]);
    }
  };
  const onConvert = (version: IModelVersion) =>
    void act(async () => started(await convertFlow(version, settings, trans)));
  const onEvaluate = (version: IModelVersion) =>
    void act(async () => {
      if (model) {
        started(await evaluateFlow(model, version, settings, trans));
      }
    });
  const onRunFinished = (run: IRun) => {
    setRuns(current => current.map(r => (r.id === run.id ? run : r)));
    void reload();
    if (run.status === 'succeeded') {
      props.onChanged();
    }
  };

  const onFindEvaluation = (runId: string) =>
    void act(async () => {
      const run = await getRun(runId, settings);
      if (run.model_id === modelId) {
        setSelected(run.version);
        setFocusEvaluation(runId);
      } else {
        props.onOpenModel(run.model_id, run.version);
      }
    });

  if (!model) {
    return (
      <div className="jp-tz-ModelDetail">
        <Loading error={error} trans={trans} />
      </div>
    );
  }
  const current = versions.find(v => v.version === selected) ?? null;
  // Oldest first: the original is the baseline its conversions are measured against.
  const compareKeys = versions
    .filter(v => checked.has(v.version))
    .sort((a, b) => a.version - b.version)
    .map(v => versionKey(v.model_id, v.version));
  return (
    <div className="jp-tz-ModelDetail" data-model-id={model.id}>
      <header className="jp-tz-ModelHeader">
        <div className="jp-tz-JobHeader-title">
          <h1 className="jp-tz-ModelHeader-name">{model.name}</h1>
          {model.task && (
            <span className="jp-tz-Badge jp-tz-ModelHeader-task">
              {String(model.task).replace(/_/g, ' ')}
            </span>
          )}
          <span className="jp-tz-Badge jp-tz-ModelHeader-visibility">
            {model.visibility}
          </span>
          <span className="jp-tz-JobHeader-spacer" />
          <button
            type="button"
            className="jp-tz-Button jp-tz-CompareButton"
            disabled={compareKeys.length < 2}
            title={trans.__('Tick two or more versions to compare them')}
            onClick={() => props.onCompare(compareKeys)}
          >
            {trans.__('Compare selected (%1)', compareKeys.length)}
          </button>
          <button
            type="button"
            className="jp-tz-Button jp-tz-ModelRefresh"
            onClick={() => void reload()}
          >
            {trans.__('Refresh')}
          </button>
          <button
            type="button"
            className="jp-tz-Button jp-mod-warn jp-tz-DeleteModelButton"
            disabled={busy}
            title={trans.__(
              'Delete %1 with its versions (not while one is in production)',
              model.name
            )}
            onClick={onDeleteModel}
          >
            {trans.__('Delete model')}
          </button>
        </div>
        {model.description && (
          <p className="jp-tz-ModelHeader-description">{model.description}</p>
        )}
        <div className="jp-tz-ModelHeader-facts">
          <span className="jp-tz-ModelHeader-owner">
            {trans.__('owner %1', model.owner)}
          </span>
          {model.team && <span>{trans.__('team %1', model.team)}</span>}
          <span>{trans._n('%1 version', '%1 versions', model.versions)}</span>
          <span>
            {trans.__(
              'production: %1',
              model.production_version ? `v${model.production_version}` : '—'
            )}
          </span>
          <span title={when(model.updated)}>
            {trans.__('updated %1', ago(model.updated))}
          </span>
          <code className="jp-tz-Path">{model.id}</code>
        </div>
      </header>
      <Unavailable error={error} />
      <Section
        className="jp-tz-ModelVersionsSection"
        title={trans.__('Versions')}
      >
        {versions.length === 0 ? (
          <div className="jp-tz-Empty">{trans.__('No versions yet.')}</div>
        ) : (
          <VersionsTable
            versions={versions}
            selected={selected}
            checked={checked}
            trans={trans}
            onSelect={setSelected}
            onToggle={(version, on) =>
              setChecked(current => {
                const next = new Set(current);
                if (on) {
                  next.add(version);
                } else {
                  next.delete(version);
                }
                return next;
              })
            }
            onOpenJob={props.onOpenJob}
          />
        )}
      </Section>
      {runs.length > 0 && (
        <Section
          className="jp-tz-ModelRuns"
          title={trans.__('Conversions and evaluations')}
        >
          <ul className="jp-tz-RunList">
            {runs.map(run => (
              <RunRow
                key={run.id}
                run={run}
                settings={settings}
                trans={trans}
                onOpenJob={props.onOpenJob}
                onSelectVersion={setSelected}
                onFinished={onRunFinished}
              />
            ))}
          </ul>
        </Section>
      )}
      {current && (
        <VersionDetail
          key={current.version}
          model={model}
          summary={current}
          settings={settings}
          trans={trans}
          rendermime={rendermime}
          revision={revision}
          busy={busy}
          focusEvaluation={focusEvaluation}
          onStage={onStage}
          onConvert={onConvert}
          onEvaluate={onEvaluate}
          onDelete={onDeleteVersion}
          onError={onError}
          onOpenJob={props.onOpenJob}
          onOpenDataset={props.onOpenDataset}
          onSelectVersion={setSelected}
          onOpenModel={props.onOpenModel}
          onFindEvaluation={onFindEvaluation}
        />
      )}
      <Section
        className="jp-tz-StageHistorySection"
        title={trans.__('Stage history')}
      >
        <StageHistory history={history} trans={trans} />
      </Section>
    </div>
  );
}
