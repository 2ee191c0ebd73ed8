/**
 * A small wrapper of `EventSource` for the API's server-sent-event streams
 * (`data: {json}` messages, a final `event: end`, `: keepalive` comments).
 */

/**
 * Callbacks of a followed stream.
 */
export interface IStreamHandlers<T> {
  /** Called with each parsed `data:` message. */
  onData: (data: T) => void;
  /** Called once with the payload of `event: end`; the stream is closed then. */
  onEnd?: (data: unknown) => void;
  /** Called once when the connection fails or drops; the stream is closed then. */
  onError?: () => void;
}

/**
 * An open stream.
 */
export interface IStream {
  /** Close the stream; no handler is called afterwards. */
  close(): void;
  /** Whether the stream is closed. */
  readonly closed: boolean;
}

/**
 * Add the `_xsrf` cookie's value as a query argument.
 *
 * `EventSource` cannot send the `X-XSRFToken` header, and a JupyterHub
 * single-user server checks XSRF on every cookie-authenticated request that is
 * not a page navigation, GETs included; the `_xsrf` argument is the other form
 * it accepts.
 *
 * @param url - the stream URL.
 * @returns the URL with `_xsrf` appended when the cookie exists.
 */
export function withXsrf(url: string): string {
  const match = document.cookie.match('\\b_xsrf=([^;]*)\\b');
  if (!match) {
    return url;
  }
  const separator = url.includes('?') ? '&' : '?';
  return `${url}${separator}_xsrf=${encodeURIComponent(match[1])}`;
}

/**
 * Follow a server-sent-events stream.
 *
 * The browser's automatic reconnection is disabled: the first error closes the
 * stream and calls `onError`, so the caller decides whether and how to resume
 * (the log stream replays from the start, the metrics stream resumes with
 * `since`).
 *
 * @param url - the stream URL (see `logsStreamURL`, `metricsStreamURL`).
 * @param handlers - the callbacks.
 * @returns the open stream.
 */
export function followStream<T>(
  url: string,
  handlers: IStreamHandlers<T>
): IStream {
  const source = new EventSource(withXsrf(url));
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      source.close();
    }
  };
  source.onmessage = (event: MessageEvent<string>) => {
    if (closed) {
      return;
    }
    let data: T;
    try {
      data = JSON.parse(event.data) as T;
    } catch {
      // A malformed message is skipped rather than ending the stream.
      return;
    }
    handlers.onData(data);
  };
  source.addEventListener('end', (event: Event) => {
    if (closed) {
      return;
    }
    close();
    let data: unknown = null;
    try {
      data = JSON.parse((event as MessageEvent<string>).data);
    } catch {
      // The end payload is informative only.
    }
    handlers.onEnd?.(data);
  });
  source.onerror = () => {
    if (closed) {
      return;
    }
    close();
    handlers.onError?.();
  };
  return {
    close,
    get closed() {
      return closed;
    }
  };
}
