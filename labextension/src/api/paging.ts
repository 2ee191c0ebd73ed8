/**
 * The pages of the API's list routes, and the filtered listing shared by the
 * datasets and models lists. No UI here.
 */
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './request';
import { query } from './workspace';

/**
 * A page of an offset-paginated list route.
 */
export interface IPage<T> {
  items: T[];
  _pagination?: {
    offset: number;
    limit: number;
    total: number;
    next?: { offset: number; limit: number; url: string } | null;
  };
}

/**
 * A page of a list route with filters; an empty filter (`''` or undefined)
 * is left out of the query.
 *
 * @param path - the route, e.g. `datasets`.
 * @param filters - the filters and paging.
 * @param settings - the server settings.
 */
export function listFiltered<T>(
  path: string,
  filters: object,
  settings?: ServerConnection.ISettings
): Promise<IPage<T>> {
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(filters)) {
    if (value !== '' && value !== undefined) {
      params[key] = value;
    }
  }
  return requestAPI<IPage<T>>(path + query(params), {}, settings);
}
