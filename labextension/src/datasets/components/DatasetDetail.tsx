import { InputDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  getDataset,
  IDataset,
  IVersion,
  listVersions,
  publish
} from '../../api/datasets';
import { errorMessage } from '../../api/request';
import { Loading } from '../../components/Loading';
import { useBusy } from '../../hooks';
import { formatBytes } from '../../format';
import { useSignal } from '../../jobs/hooks';
import { LabelingModel } from '../labeling';
import { ClassificationLabeler } from './ClassificationLabeler';
import { DetectionLabeler } from './DetectionLabeler';
import { FilesTab } from './FilesTab';
import { VersionsTab } from './VersionsTab';

/**
 * Properties of `DatasetDetail`.
 */
export interface IDatasetDetailProps {
  datasetId: string;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
  onError: (message: string) => void;
  onPublished: (version: IVersion) => void;
  /** Called with the dataset whenever it is (re)loaded. */
  onLoaded: (dataset: IDataset) => void;
}

type Tab = 'versions' | 'files' | 'label';

/**
 * The view of one dataset: header (name, owner, type, visibility, draft
 * counts, Publish) and three tabs: Versions (stats charts, diff), Files
 * (preview grid) and Label (the labeler of its type).
 */
export function DatasetDetail(props: IDatasetDetailProps): JSX.Element {
  const { datasetId, settings, trans, onError } = props;
  const [dataset, setDataset] = React.useState<IDataset | null>(null);
  const [versions, setVersions] = React.useState<IVersion[]>([]);
  const [tab, setTab] = React.useState<Tab>('files');
  const [error, setError] = React.useState<string | null>(null);
  const [publishing, run] = useBusy(onError);
  const [revision, setRevision] = React.useState(0);

  const reload = React.useCallback(async () => {
    try {
      const [d, v] = await Promise.all([
        getDataset(datasetId, settings),
        listVersions(datasetId, settings)
      ]);
      setDataset(d);
      setVersions(v);
      setError(null);
      props.onLoaded(d);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [datasetId]);
  React.useEffect(() => void reload(), [reload]);

  const mode =
    dataset?.type === 'object_detection'
      ? 'detection'
      : dataset?.type === 'image_classification'
        ? 'classification'
        : null;
  const labeling = React.useMemo(
    () => (mode ? new LabelingModel(datasetId, mode, settings) : null),
    [datasetId, mode]
  );
  React.useEffect(() => {
    if (tab !== 'label' || !labeling || !dataset) {
      return;
    }
    // The dataset was reloaded when the other tab opened: its count includes
    // this labeler's saves and anyone else's.
    if (labeling.loaded) {
      labeling.rebase(dataset.draft.labeled);
    } else {
      void labeling.start(dataset.draft.labeled);
    }
  }, [tab, labeling]);
  // The header's labeled count follows the labeling as it happens.
  useSignal(labeling?.changed ?? null);
  const labeled =
    tab === 'label' && labeling?.loaded
      ? labeling.labeledCount
      : (dataset?.draft.labeled ?? 0);

  const onPublish = async () => {
    const result = await InputDialog.getText({
      title: trans.__('Publish %1', dataset?.name ?? ''),
      label: trans.__('Note (optional)'),
      placeholder: trans.__('what changed')
    });
    if (!result.button.accept) {
      return;
    }
    await run(async () => {
      const version = await publish(datasetId, result.value ?? '', settings);
      props.onPublished(version);
      await reload();
      setRevision(r => r + 1);
      setTab('versions');
    });
  };

  if (!dataset) {
    return (
      <div className="jp-tz-DatasetDetail">
        <Loading error={error} trans={trans} />
      </div>
    );
  }
  const tabs: [Tab, string][] = [
    ['files', trans.__('Files')],
    ['versions', trans.__('Versions (%1)', versions.length)]
  ];
  if (mode) {
    tabs.push(['label', trans.__('Label')]);
  }
  return (
    <div className="jp-tz-DatasetDetail" data-dataset-id={dataset.id}>
      <header className="jp-tz-DatasetHeader">
        <div className="jp-tz-JobHeader-title">
          <h1 className="jp-tz-DatasetHeader-name">{dataset.name}</h1>
          <span className="jp-tz-Badge">{dataset.type.replace('_', ' ')}</span>
          <span className="jp-tz-Badge">{dataset.visibility}</span>
          <span className="jp-tz-JobHeader-spacer" />
          <button
            className="jp-tz-Button jp-mod-accept jp-tz-PublishButton"
            disabled={publishing || dataset.draft.files === 0}
            onClick={() => void onPublish()}
          >
            {publishing
              ? trans.__('Publishing…')
              : trans.__(
                  'Publish V%1',
                  String(versions.length + 1).padStart(3, '0')
                )}
          </button>
        </div>
        <p className="jp-tz-DatasetHeader-description">{dataset.description}</p>
        <div className="jp-tz-DatasetHeader-facts">
          <span>{trans.__('owner %1', dataset.owner)}</span>
          {dataset.team && <span>{trans.__('team %1', dataset.team)}</span>}
          <span className="jp-tz-DatasetHeader-draft">
            {trans.__(
              'draft: %1 files, %2, %3 labeled',
              dataset.draft.files,
              formatBytes(dataset.draft.bytes),
              labeled
            )}
          </span>
          <span className="jp-tz-DatasetHeader-labels">
            {trans.__('labels: %1', dataset.labels.join(', ') || '—')}
          </span>
          <span>{trans.__('latest: %1', dataset.latest_version ?? '—')}</span>
        </div>
        <nav className="jp-tz-Tabs" role="tablist">
          {tabs.map(([id, label]) => (
            <button
              key={id}
              role="tab"
              aria-selected={tab === id}
              className={`jp-tz-Tab jp-tz-Tab-${id}${tab === id ? ' jp-mod-active' : ''}`}
              onClick={() => {
                setTab(id);
                if (id !== 'label') {
                  void reload();
                  setRevision(r => r + 1);
                }
              }}
            >
              {label}
            </button>
          ))}
        </nav>
      </header>
      {tab === 'files' && (
        <FilesTab
          datasetId={datasetId}
          versions={versions}
          settings={settings}
          trans={trans}
          revision={revision}
        />
      )}
      {tab === 'versions' && (
        <VersionsTab
          key={versions[0]?.version ?? 'none'}
          datasetId={datasetId}
          versions={versions}
          settings={settings}
          trans={trans}
        />
      )}
      {tab === 'label' && labeling && mode === 'classification' && (
        <ClassificationLabeler
          model={labeling}
          labels={dataset.labels}
          settings={settings}
          trans={trans}
          onError={onError}
        />
      )}
      {tab === 'label' && labeling && mode === 'detection' && (
        <DetectionLabeler
          model={labeling}
          labels={dataset.labels}
          settings={settings}
          trans={trans}
          onError={onError}
        />
      )}
    </div>
  );
}
