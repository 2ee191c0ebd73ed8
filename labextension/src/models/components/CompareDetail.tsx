import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { compareCSV, compareVersions, ICompare } from '../../api/models';
import { errorMessage } from '../../api/request';
import { Loading } from '../../components/Loading';
import { Unavailable } from '../../components/Unavailable';
import { saveFile } from '../../download';
import { formatBytes } from '../../format';
import {
  chartSeries,
  csvFilename,
  formatMs,
  formatPercent
} from '../comparison';
import { CompareChart } from './CompareChart';
import { CompareTable } from './CompareTable';

/**
 * Properties of `CompareDetail`.
 */
export interface ICompareDetailProps {
  /** The compared versions, `mdl-id:N` (the first is the baseline). */
  versions: ReadonlyArray<string>;
  /** The dataset whose evaluations are compared (null: the latest of each). */
  dataset: string | null;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
  onError: (message: string) => void;
  onOpenModel: (modelId: string, version: number) => void;
}

/**
 * The comparison of versions: the dataset the evaluations were run on, the
 * table side by side, bar charts of accuracy, latency p50 and size, and
 * Export CSV.
 */
export function CompareDetail(props: ICompareDetailProps): JSX.Element {
  const { versions, settings, trans, onError } = props;
  const [dataset, setDataset] = React.useState(props.dataset ?? '');
  const [applied, setApplied] = React.useState(props.dataset ?? '');
  const [compare, setCompare] = React.useState<ICompare | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(false);
  const [exporting, setExporting] = React.useState(false);

  const load = React.useCallback(async () => {
    setLoading(true);
    try {
      setCompare(await compareVersions(versions, applied || null, settings));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLoading(false);
    }
  }, [versions.join(','), applied]);
  React.useEffect(() => void load(), [load]);

  const onExport = async () => {
    setExporting(true);
    try {
      const text = await compareCSV(versions, applied || null, settings);
      saveFile(
        text,
        csvFilename(compare ? compare.rows.map(r => r.ref) : [...versions]),
        'text/csv'
      );
    } catch (e) {
      onError(errorMessage(e));
    } finally {
      setExporting(false);
    }
  };

  return (
    <div className="jp-tz-CompareDetail">
      <header className="jp-tz-CompareHeader">
        <div className="jp-tz-JobHeader-title">
          <h1 className="jp-tz-CompareHeader-title">
            {trans._n(
              'Compare %1 version',
              'Compare %1 versions',
              versions.length
            )}
          </h1>
          {compare?.baseline && (
            <span className="jp-tz-CompareHeader-baseline">
              {trans.__('baseline %1', compare.baseline)}
            </span>
          )}
          <span className="jp-tz-JobHeader-spacer" />
          <button
            type="button"
            className="jp-tz-Button jp-tz-ExportCsvButton"
            disabled={exporting || !compare}
            onClick={() => void onExport()}
          >
            {trans.__('Export CSV')}
          </button>
          <button
            type="button"
            className="jp-tz-Button"
            disabled={loading}
            onClick={() => void load()}
          >
            {trans.__('Refresh')}
          </button>
        </div>
        <form
          className="jp-tz-CompareDataset"
          onSubmit={e => {
            e.preventDefault();
            setApplied(dataset.trim());
          }}
        >
          <label className="jp-tz-Inline">
            {trans.__('Evaluations on dataset')}
            <input
              className="jp-tz-Input jp-tz-CompareDataset-input"
              name="dataset"
              placeholder={trans.__('latest of each version')}
              value={dataset}
              onChange={e => setDataset(e.target.value)}
            />
          </label>
          <button type="submit" className="jp-tz-Button">
            {trans.__('Apply')}
          </button>
          {compare?.dataset && (
            <span className="jp-tz-CompareDataset-used">
              {trans.__('using %1', compare.dataset)}
            </span>
          )}
        </form>
      </header>
      {compare ? (
        <Unavailable error={error} />
      ) : (
        <Loading error={error} trans={trans} />
      )}
      {compare && (
        <>
          <CompareTable
            compare={compare}
            trans={trans}
            onOpen={props.onOpenModel}
          />
          <div className="jp-tz-CompareCharts">
            <CompareChart
              title={trans.__('Accuracy')}
              metric="accuracy"
              bars={chartSeries(compare, 'accuracy')}
              format={formatPercent}
              baseline={compare.baseline}
              empty={trans.__(
                'No accuracy figures: evaluate the versions on a dataset.'
              )}
            />
            <CompareChart
              title={trans.__('Latency p50 (batch 1)')}
              metric="latency_ms_p50"
              bars={chartSeries(compare, 'latency_ms_p50')}
              format={formatMs}
              baseline={compare.baseline}
              empty={trans.__('No latency figures: evaluate the versions.')}
            />
            <CompareChart
              title={trans.__('Size')}
              metric="size_bytes"
              bars={chartSeries(compare, 'size_bytes')}
              format={v => formatBytes(v)}
              baseline={compare.baseline}
              empty={trans.__('No sizes.')}
            />
          </div>
        </>
      )}
    </div>
  );
}
