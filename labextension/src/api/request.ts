/**
 * HTTP access to the Training Zoo API through the user's own Jupyter server.
 *
 * Exports `requestAPI` (paths under `<baseUrl>/tz/api/v1/`), `requestServer`
 * (any path under `<baseUrl>/tz/`, e.g. the `snapshot` route of the server
 * extension) and `TzResponseError`. No UI here: callers decide how to show errors.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * The API namespace, relative to the Jupyter server base URL.
 */
export const API_NAMESPACE = 'tz/api/v1';

/**
 * The error body of the Training Zoo API.
 */
export interface IErrorBody {
  /** Human-readable message, safe to show to users. */
  message: string;
  /** Machine-readable reason, e.g. `NotFound`. */
  reason?: string | null;
  /** Per-field messages of a validation error. */
  errors?: Record<string, string>;
}

/**
 * A non-2xx answer of the Training Zoo API, carrying the server's message.
 */
export class TzResponseError extends ServerConnection.ResponseError {
  /**
   * Create an error from a response and its (possibly non-JSON) body.
   *
   * @param response - the response that was not ok.
   * @param body - the parsed JSON body, or the raw text when it was not JSON.
   */
  constructor(response: Response, body: unknown) {
    super(response, Private.messageOf(response, body));
    this.name = 'TzResponseError';
    const error = Private.isErrorBody(body) ? body : null;
    this.status = response.status;
    this.reason = error?.reason ?? null;
    this.errors = error?.errors ?? {};
  }

  /** The HTTP status code. */
  readonly status: number;
  /** The server's machine-readable reason, if any. */
  readonly reason: string | null;
  /** Per-field messages of a validation error (empty when none). */
  readonly errors: Record<string, string>;
}

/**
 * Call a route of the Training Zoo server extension, relative to `<baseUrl>/`.
 *
 * JSON string bodies get a JSON content type; `ServerConnection.makeRequest`
 * adds the authentication and the XSRF header.
 *
 * @param path - the path relative to the server base URL, e.g. `tz/snapshot`.
 * @param init - the request options.
 * @param settings - the server settings (default: the page's settings).
 * @returns the parsed JSON body, or `undefined` for an empty body (e.g. 204).
 * @throws {TzResponseError} when the server answers with a non-2xx status.
 * @throws {ServerConnection.NetworkError} when the server cannot be reached.
 */
export async function requestServer<T>(
  path: string,
  init: RequestInit = {},
  settings?: ServerConnection.ISettings
): Promise<T> {
  const text = await requestServerText(path, init, settings);
  return (text.length > 0 ? Private.parse(text) : undefined) as T;
}

/**
 * Call a route of the Training Zoo server extension and return its body as
 * text (e.g. a CSV download); the headers and errors are those of
 * `requestServer`.
 *
 * @param path - the path relative to the server base URL.
 * @param init - the request options (an `Accept` header replaces JSON's).
 * @param settings - the server settings (default: the page's settings).
 * @returns the body.
 * @throws {TzResponseError} when the server answers with a non-2xx status.
 * @throws {ServerConnection.NetworkError} when the server cannot be reached.
 */
export async function requestServerText(
  path: string,
  init: RequestInit = {},
  settings?: ServerConnection.ISettings
): Promise<string> {
  const response = await Private.request(path, init, settings);
  return response.text();
}

/**
 * Call the Training Zoo API at `<baseUrl>/tz/api/v1/<endPoint>`.
 *
 * @param endPoint - the path under the API namespace, e.g. `jobs/abc/cancel`.
 * @param init - the request options.
 * @param settings - the server settings (default: the page's settings).
 * @returns the parsed JSON body, or `undefined` for an empty body.
 * @throws {TzResponseError} when the server answers with a non-2xx status.
 * @throws {ServerConnection.NetworkError} when the server cannot be reached.
 */
export function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings?: ServerConnection.ISettings
): Promise<T> {
  return requestServer<T>(URLExt.join(API_NAMESPACE, endPoint), init, settings);
}

/**
 * The URL of a server-sent-events stream of the API.
 *
 * `EventSource` cannot set headers: on the same origin the session cookie
 * authenticates the GET; elsewhere the token goes in the query string, exactly
 * as JupyterLab does for kernel websockets.
 *
 * @param endPoint - the path under the API namespace, e.g. `jobs/abc/logs`.
 * @param query - query parameters; `follow=true` is always added.
 * @param settings - the server settings (default: the page's settings).
 * @returns the absolute URL.
 */
export function streamURL(
  endPoint: string,
  query: Record<string, string | number> = {},
  settings: ServerConnection.ISettings = Private.defaultSettings()
): string {
  const params: Record<string, string> = { follow: 'true' };
  for (const [key, value] of Object.entries(query)) {
    params[key] = String(value);
  }
  if (settings.appendToken && settings.token) {
    params.token = settings.token;
  }
  return (
    URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint) +
    URLExt.objectToQueryString(params)
  );
}

/**
 * The message to show for any error thrown by this module (or anything else).
 *
 * @param error - the caught value.
 * @returns a one-line message.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message || String(error);
  }
  return String(error);
}

namespace Private {
  let settings: ServerConnection.ISettings | null = null;

  /**
   * The page's server settings, made once.
   */
  export function defaultSettings(): ServerConnection.ISettings {
    if (!settings) {
      settings = ServerConnection.makeSettings();
    }
    return settings;
  }

  /**
   * Send a request through `ServerConnection.makeRequest` (authentication and
   * the XSRF header) with JSON defaults.
   *
   * @returns the response, ok.
   * @throws {TzResponseError} when the server answers with a non-2xx status.
   * @throws {ServerConnection.NetworkError} when the server cannot be reached.
   */
  export async function request(
    path: string,
    init: RequestInit,
    settings: ServerConnection.ISettings = defaultSettings()
  ): Promise<Response> {
    const url = URLExt.join(settings.baseUrl, path);
    const headers = new Headers(init.headers);
    if (typeof init.body === 'string' && !headers.has('Content-Type')) {
      headers.set('Content-Type', 'application/json');
    }
    if (!headers.has('Accept')) {
      headers.set('Accept', 'application/json');
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        { ...init, headers },
        settings
      );
    } catch (error) {
      throw new ServerConnection.NetworkError(error as TypeError);
    }
    if (!response.ok) {
      throw new TzResponseError(response, parse(await response.text()));
    }
    return response;
  }

  /**
   * A body as JSON, or the text itself when it is not JSON (e.g. a proxy's
   * HTML error page) or empty.
   */
  export function parse(text: string): unknown {
    if (text.length > 0) {
      try {
        return JSON.parse(text);
      } catch {
        // Not JSON: keep the text.
      }
    }
    return text;
  }

  /**
   * Whether a parsed body has the API's error shape.
   */
  export function isErrorBody(body: unknown): body is IErrorBody {
    return (
      typeof body === 'object' &&
      body !== null &&
      typeof (body as IErrorBody).message === 'string'
    );
  }

  /**
   * The server's message, or the status line when the body has none.
   */
  export function messageOf(response: Response, body: unknown): string {
    if (isErrorBody(body) && body.message) {
      return body.message;
    }
    const status = `${response.status} ${response.statusText}`.trim();
    return `Training Zoo request failed (${status}): ${response.url}`;
  }
}
