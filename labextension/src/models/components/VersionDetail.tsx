import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  getLineage,
  getModelVersion,
  ILineage,
  ILineageNode,
  IModel,
  IModelVersion,
  Stage
} from '../../api/models';
import { errorMessage } from '../../api/request';
import { Fact, Facts } from '../../components/Facts';
import { Section } from '../../components/Section';
import { Unavailable } from '../../components/Unavailable';
import { formatBytes } from '../../format';
import { when } from '../../jobs/format';
import { formatValue, MISSING } from '../comparison';
import { conversionTargets } from '../forms';
import { EvaluationList } from './EvaluationList';
import { KeyValueTable } from './KeyValueTable';
import { LineageGraph } from './LineageGraph';
import { ModelCard } from './ModelCard';
import { SignatureTable } from './SignatureTable';
import { StageActions } from './StageActions';
import { StageBadge } from './StageBadge';
import { VersionFiles } from './VersionFiles';

/**
 * Properties of `VersionDetail`.
 */
export interface IVersionDetailProps {
  model: IModel;
  /** The version as listed (shown until its full record loads). */
  summary: IModelVersion;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
  rendermime: IRenderMimeRegistry | null;
  /** Changes when the version should be fetched again. */
  revision: number;
  /** Whether a stage move is in flight. */
  busy: boolean;
  /** An evaluation to scroll to once shown. */
  focusEvaluation: string | null;
  onStage: (version: IModelVersion, to: Stage) => void;
  onConvert: (version: IModelVersion) => void;
  onEvaluate: (version: IModelVersion) => void;
  /** Delete the version (after confirming). */
  onDelete: (version: IModelVersion) => void;
  onError: (message: string) => void;
  onOpenJob: (id: string) => void;
  onOpenDataset: (id: string) => void;
  onSelectVersion: (version: number) => void;
  /** Open a version of another model. */
  onOpenModel: (modelId: string, version: number | null) => void;
  /** An evaluation of another version was clicked in the lineage. */
  onFindEvaluation: (runId: string) => void;
}

/**
 * The version number at the end of a ref (`owner/name:3` → 3).
 */
function versionOfRef(ref: string): number | null {
  const n = Number(ref.split(':').pop());
  return Number.isInteger(n) && n > 0 ? n : null;
}

/**
 * The selected version (`.jp-tz-VersionDetail[data-version]`): facts, stage
 * buttons, Convert and Evaluate, metrics, parameters, tags, labels, signature,
 * the model card, the lineage graph and the evaluations.
 */
export function VersionDetail(props: IVersionDetailProps): JSX.Element {
  const { model, summary, settings, trans, rendermime, busy } = props;
  const [detail, setDetail] = React.useState<IModelVersion>(summary);
  const [lineage, setLineage] = React.useState<ILineage | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [highlight, setHighlight] = React.useState<string | null>(null);
  const root = React.useRef<HTMLDivElement>(null);

  React.useEffect(() => {
    setDetail(summary);
  }, [summary]);

  React.useEffect(() => {
    let live = true;
    setError(null);
    getModelVersion(summary.model_id, summary.version, settings)
      .then(v => live && setDetail(v))
      .catch(e => live && setError(errorMessage(e)));
    getLineage(summary.model_id, summary.version, settings)
      .then(l => live && setLineage(l))
      .catch(e => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [summary.model_id, summary.version, props.revision]);

  const evaluations = detail.evaluations ?? [];
  const scrollTo = (runId: string) => {
    setHighlight(runId);
    const row = root.current?.querySelector(
      `.jp-tz-EvaluationRow[data-run-id="${CSS.escape(runId)}"]`
    );
    row?.scrollIntoView({ behavior: 'smooth', block: 'center' });
  };
  React.useEffect(() => {
    if (
      props.focusEvaluation &&
      evaluations.some(e => e.id === props.focusEvaluation)
    ) {
      scrollTo(props.focusEvaluation);
    }
  }, [props.focusEvaluation, detail.evaluations]);

  const onActivate = (node: ILineageNode) => {
    switch (node.kind) {
      case 'dataset': {
        const id =
          node.dataset_id ??
          detail.lineage?.datasets?.find(d => d.ref === node.ref)?.dataset_id;
        if (id) {
          props.onOpenDataset(id);
        }
        break;
      }
      case 'job':
        props.onOpenJob(node.ref);
        break;
      case 'version': {
        const version = node.version ?? versionOfRef(node.ref);
        const sameModel = node.model_id
          ? node.model_id === model.id
          : node.ref.startsWith(`${model.owner}/${model.name}:`);
        if (sameModel && version !== null) {
          props.onSelectVersion(version);
        } else if (node.model_id) {
          props.onOpenModel(node.model_id, version);
        }
        break;
      }
      case 'evaluation':
        if (evaluations.some(e => e.id === node.ref)) {
          scrollTo(node.ref);
        } else {
          props.onFindEvaluation(node.ref);
        }
        break;
    }
  };

  const parity = detail.conversion?.parity;
  const facts: Fact[] = [
    [trans.__('Format'), detail.format],
    [
      trans.__('Framework'),
      [detail.framework, detail.framework_version].filter(Boolean).join(' ') ||
        MISSING
    ],
    [trans.__('Artifact'), detail.artifact ?? MISSING],
    [
      trans.__('Files'),
      `${detail.files} · ${formatBytes(detail.size_bytes) || MISSING}`
    ],
    [trans.__('Created'), `${when(detail.created)} · ${detail.created_by}`]
  ];
  if (detail.lineage?.code_snapshot) {
    facts.push([
      trans.__('Code snapshot'),
      <code className="jp-tz-Path">
        {detail.lineage.code_snapshot.slice(0, 12)}
      </code>
    ]);
  }
  if (detail.lineage?.image) {
    facts.push([
      trans.__('Image'),
      <code className="jp-tz-Path">{detail.lineage.image}</code>
    ]);
  }
  if (detail.conversion) {
    facts.push([
      trans.__('Conversion'),
      [
        detail.conversion.kind,
        detail.conversion.opset ? `opset ${detail.conversion.opset}` : '',
        detail.conversion.exporter
      ]
        .filter(Boolean)
        .join(' · ')
    ]);
  }
  if (parity) {
    facts.push([
      trans.__('Parity'),
      <span
        className={`jp-tz-Parity${parity.passed === false ? ' jp-mod-error' : ''}`}
        data-passed={String(parity.passed)}
      >
        {/* Within either tolerance passes: say which, so a big absolute difference
            next to its tolerance does not read as a failure. */}
        {trans.__(
          '%1: max abs %2 (tolerance %3), max rel %4 (tolerance %5), %6 samples',
          parity.passed === false ? trans.__('failed') : trans.__('passed'),
          formatValue(parity.max_abs),
          formatValue(parity.tolerance_abs),
          formatValue(parity.max_rel),
          formatValue(parity.tolerance_rel),
          formatValue(parity.samples)
        )}
        {parity.inputs ? ` · ${parity.inputs}` : ''}
      </span>
    ]);
  }

  return (
    <div
      className="jp-tz-VersionDetail jp-tz-ModelVersionDetail"
      data-version={detail.version}
      ref={root}
    >
      <div className="jp-tz-VersionDetail-head">
        <h2 className="jp-tz-VersionDetail-ref">{detail.ref}</h2>
        <StageBadge stage={detail.stage} />
        <span className="jp-tz-JobHeader-spacer" />
        <StageActions
          stage={detail.stage}
          busy={busy}
          trans={trans}
          onMove={to => props.onStage(detail, to)}
        />
        <button
          type="button"
          className="jp-tz-Button jp-tz-ConvertButton"
          disabled={conversionTargets(detail.format).length === 0}
          title={
            conversionTargets(detail.format).length === 0
              ? trans.__('No conversion starts from %1', detail.format)
              : trans.__(
                  'Convert to %1',
                  conversionTargets(detail.format).join(', ')
                )
          }
          onClick={() => props.onConvert(detail)}
        >
          {trans.__('Convert')}
        </button>
        <button
          type="button"
          className="jp-tz-Button jp-tz-EvaluateButton"
          onClick={() => props.onEvaluate(detail)}
        >
          {trans.__('Evaluate')}
        </button>
        <button
          type="button"
          className="jp-tz-Button jp-mod-warn jp-tz-DeleteVersionButton"
          disabled={busy || detail.stage === 'production'}
          title={
            detail.stage === 'production'
              ? trans.__(
                  'A version in production cannot be deleted: promote another one or archive it first'
                )
              : trans.__('Delete %1 and its files', detail.ref)
          }
          onClick={() => props.onDelete(detail)}
        >
          {trans.__('Delete version')}
        </button>
      </div>
      {detail.description && (
        <p className="jp-tz-VersionDetail-description">{detail.description}</p>
      )}
      <Unavailable error={error} />
      <Facts facts={facts} />
      <div className="jp-tz-ModelPanels">
        <Section className="jp-tz-ModelMetrics" title={trans.__('Metrics')}>
          <KeyValueTable
            values={detail.metrics}
            empty={trans.__('No metrics.')}
          />
        </Section>
        <Section
          className="jp-tz-ModelParameters"
          title={trans.__('Parameters')}
        >
          <KeyValueTable
            values={detail.parameters}
            empty={trans.__('No parameters.')}
          />
        </Section>
        <Section className="jp-tz-ModelTags" title={trans.__('Tags')}>
          <KeyValueTable values={detail.tags} empty={trans.__('No tags.')} />
          {detail.labels && detail.labels.length > 0 && (
            <div className="jp-tz-ModelLabels">
              <span className="jp-tz-ModelLabels-title">
                {trans.__('Labels')}
              </span>
              {detail.labels.map((label, i) => (
                <span key={i} className="jp-tz-Badge jp-tz-ModelLabel">
                  {label}
                </span>
              ))}
            </div>
          )}
        </Section>
        <Section className="jp-tz-ModelSignature" title={trans.__('Signature')}>
          <SignatureTable signature={detail.signature} trans={trans} />
        </Section>
      </div>
      <Section className="jp-tz-VersionFilesSection" title={trans.__('Files')}>
        <VersionFiles
          modelId={detail.model_id}
          version={detail.version}
          settings={settings}
          trans={trans}
          revision={props.revision}
          onError={props.onError}
        />
      </Section>
      <Section title={trans.__('Lineage')}>
        {lineage ? (
          <LineageGraph
            lineage={lineage}
            current={detail.ref}
            trans={trans}
            onActivate={onActivate}
            onOpenJob={props.onOpenJob}
          />
        ) : (
          <div className="jp-tz-Empty">{trans.__('Loading…')}</div>
        )}
      </Section>
      <Section title={trans.__('Model card')}>
        <ModelCard card={detail.card} rendermime={rendermime} trans={trans} />
      </Section>
      <Section
        className="jp-tz-Evaluations"
        title={trans.__('Evaluations (%1)', evaluations.length)}
      >
        <EvaluationList
          evaluations={evaluations}
          trans={trans}
          highlighted={highlight}
          onOpenJob={props.onOpenJob}
        />
      </Section>
    </div>
  );
}
