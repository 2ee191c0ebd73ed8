/**
 * Turning a drop or a file picker into a flat list of files with their paths
 * relative to the drop target: dropped folders are walked with
 * `webkitGetAsEntry` (every `readEntries` batch, however many), picked folders
 * use `webkitRelativePath`.
 */
import { cleanRelativePath } from '../uploads/plan';

/**
 * A file and where it goes, relative to the target folder.
 */
export interface IPickedFile {
  file: File;
  relativePath: string;
}

/**
 * The files of a drop, folders walked recursively. The entries are taken
 * synchronously (a `DataTransfer` is emptied after the event handler
 * returns); call this inside the `drop` handler before any `await`.
 *
 * @param data - the drop's data transfer.
 * @returns the files, with paths relative to the drop.
 */
export function filesFromDrop(data: DataTransfer): Promise<IPickedFile[]> {
  const entries: FileSystemEntry[] = [];
  const loose: File[] = [];
  for (const item of Array.from(data.items)) {
    if (item.kind !== 'file') {
      continue;
    }
    const entry = item.webkitGetAsEntry?.() ?? null;
    if (entry) {
      entries.push(entry);
    } else {
      const file = item.getAsFile();
      if (file) {
        loose.push(file);
      }
    }
  }
  return (async () => {
    const out: IPickedFile[] = loose.map(file => ({
      file,
      relativePath: cleanRelativePath(file.name)
    }));
    for (const entry of entries) {
      await walk(entry, out);
    }
    return out;
  })();
}

/**
 * The files of an `<input type=file>` (with or without `webkitdirectory`).
 *
 * @param files - the input's files.
 * @returns the files, with paths relative to the picked folder's parent.
 */
export function filesFromInput(files: FileList | null): IPickedFile[] {
  return Array.from(files ?? []).map(file => ({
    file,
    relativePath: cleanRelativePath(
      (file as File & { webkitRelativePath?: string }).webkitRelativePath ||
        file.name
    )
  }));
}

async function walk(entry: FileSystemEntry, out: IPickedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) =>
      (entry as FileSystemFileEntry).file(resolve, reject)
    );
    out.push({ file, relativePath: cleanRelativePath(entry.fullPath) });
    return;
  }
  if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries answers in batches (100 in Chrome) until an empty one.
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) =>
        reader.readEntries(resolve, reject)
      );
      if (batch.length === 0) {
        break;
      }
      for (const child of batch) {
        await walk(child, out);
      }
    }
  }
}
