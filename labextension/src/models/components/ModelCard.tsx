import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

/**
 * Properties of `ModelCard`.
 */
export interface IModelCardProps {
  /** The card's Markdown (user text: rendered untrusted). */
  card: string | null | undefined;
  /** Lab's renderers; null shows the Markdown as plain text. */
  rendermime: IRenderMimeRegistry | null;
  trans: TranslationBundle;
}

/**
 * The model card (`.jp-tz-ModelCard`): the Markdown rendered by JupyterLab's
 * markdown renderer as an untrusted model, so its HTML goes through the
 * sanitizer (no scripts, no event attributes). Without a renderer the text is
 * shown as it is.
 */
export function ModelCard(props: IModelCardProps): JSX.Element {
  const { card, rendermime, trans } = props;
  const host = React.useRef<HTMLDivElement>(null);
  const [failed, setFailed] = React.useState(false);

  React.useEffect(() => {
    const node = host.current;
    if (!node || !card || !rendermime || failed) {
      return;
    }
    let renderer: ReturnType<IRenderMimeRegistry['createRenderer']> | null =
      null;
    try {
      renderer = rendermime.createRenderer('text/markdown');
    } catch {
      setFailed(true);
      return;
    }
    const widget = renderer;
    widget.addClass('jp-tz-ModelCard-rendered');
    node.appendChild(widget.node);
    widget
      .renderModel(
        new MimeModel({ data: { 'text/markdown': card }, trusted: false })
      )
      .catch(() => setFailed(true));
    return () => {
      widget.node.remove();
      widget.dispose();
    };
  }, [card, rendermime, failed]);

  if (!card) {
    return (
      <div className="jp-tz-ModelCard jp-mod-empty">
        <div className="jp-tz-Empty">
          {trans.__(
            'No model card. Add a README.md and name it in tz-model.json "card".'
          )}
        </div>
      </div>
    );
  }
  if (!rendermime || failed) {
    return (
      <div className="jp-tz-ModelCard jp-mod-plain">
        <pre className="jp-tz-ModelCard-plain">{card}</pre>
      </div>
    );
  }
  return <div className="jp-tz-ModelCard" ref={host} />;
}
