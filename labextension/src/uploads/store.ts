/**
 * The localStorage list of uploads that may need resuming after a reload:
 * `{id, name, size, lastModified, space, path}` per upload, never file bytes.
 */
import { IUploadRecord, parseRecords } from './plan';

/**
 * The localStorage key.
 */
export const STORAGE_KEY = 'training-zoo:uploads';

/**
 * Read and write the records; a broken or missing storage just keeps nothing.
 */
export class UploadStore {
  /**
   * @param storage - where to keep the records (default: `window.localStorage`).
   */
  constructor(storage: Storage | null = Private.localStorage()) {
    this._storage = storage;
  }

  /** The stored records. */
  load(): IUploadRecord[] {
    try {
      return parseRecords(this._storage?.getItem(STORAGE_KEY) ?? null);
    } catch {
      return [];
    }
  }

  /** Add (or replace) one record. */
  put(record: IUploadRecord): void {
    this._save([...this.load().filter(r => r.id !== record.id), record]);
  }

  /** Drop one record. */
  remove(id: string): void {
    const records = this.load();
    const kept = records.filter(r => r.id !== id);
    if (kept.length !== records.length) {
      this._save(kept);
    }
  }

  private _save(records: IUploadRecord[]): void {
    try {
      if (records.length === 0) {
        this._storage?.removeItem(STORAGE_KEY);
      } else {
        this._storage?.setItem(STORAGE_KEY, JSON.stringify(records));
      }
    } catch {
      // Storage full or disabled: resume after reload is then unavailable.
    }
  }

  private _storage: Storage | null;
}

namespace Private {
  export function localStorage(): Storage | null {
    try {
      return window.localStorage;
    } catch {
      return null;
    }
  }
}
