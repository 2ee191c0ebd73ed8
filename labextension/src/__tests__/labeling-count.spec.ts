/**
 * `LabelingModel.labeledCount`: the labeled files of the whole draft, not of
 * the pages loaded so far, moved by every change the labeler sees.
 */
import { IAnnotations, IDatasetFile } from '../api/datasets';

jest.mock('../api/datasets', () => ({
  listFiles: jest.fn(),
  saveAnnotations: jest.fn()
}));
jest.mock('../api/request', () => {
  class TzResponseError extends Error {
    constructor(
      readonly status: number,
      readonly reason: string | null,
      readonly errors: Record<string, unknown>
    ) {
      super(reason ?? 'error');
    }
  }
  return { TzResponseError, errorMessage: (e: unknown) => String(e) };
});

import * as api from '../api/datasets';
import { TzResponseError } from '../api/request';
import { LabelingModel } from '../datasets/labeling';

const listFiles = api.listFiles as jest.Mock;
const saveAnnotations = api.saveAnnotations as jest.Mock;

const NONE: IAnnotations = { labels: [], boxes: [] };
const CAT: IAnnotations = { labels: ['cat'], boxes: [] };

function file(i: number, annotations: IAnnotations): IDatasetFile {
  return {
    key: `img${i}.png`,
    size: 1,
    sha256: '',
    usage: null,
    annotations,
    revision: 1
  };
}

/** A draft of 450 files; the first page holds 200, the first 50 unlabeled. */
function firstPage(): void {
  const items = Array.from({ length: 200 }, (_, i) =>
    file(i, i < 50 ? NONE : CAT)
  );
  listFiles.mockResolvedValueOnce({ items, _pagination: { total: 450 } });
}

async function started(labeledOnServer?: number): Promise<LabelingModel> {
  firstPage();
  const model = new LabelingModel('d1', 'classification', {} as never);
  await model.start(labeledOnServer);
  return model;
}

beforeEach(() => {
  listFiles.mockReset();
  saveAnnotations.mockReset();
});

describe('LabelingModel.labeledCount', () => {
  it('starts from the whole draft as the server counts it', async () => {
    const model = await started(300);
    expect(model.total).toBe(450);
    expect(model.labeledCount).toBe(300); // not the 150 of the loaded page
  });

  it.each([
    ['labeling an unlabeled file', 0, CAT, 301],
    ['clearing a labeled file', 60, NONE, 299],
    ['relabeling a labeled file', 60, { labels: ['dog'], boxes: [] }, 300],
    ['saving an unlabeled file unlabeled', 0, NONE, 300]
  ])('moves on %s', async (_, index, annotations, expected) => {
    const model = await started(300);
    saveAnnotations.mockResolvedValueOnce({
      ...file(index, annotations),
      revision: 2
    });
    expect(await model.save(`img${index}.png`, annotations)).toBe(true);
    expect(model.labeledCount).toBe(expected);
  });

  it("counts a colleague's change that a conflict brings in", async () => {
    const model = await started(300);
    saveAnnotations.mockRejectedValueOnce(
      new (
        TzResponseError as unknown as new (
          status: number,
          reason: string,
          errors: Record<string, unknown>
        ) => Error
      )(409, 'StaleRevision', {
        current: { ...file(0, CAT), revision: 2, updated_by: 'bob' }
      })
    );
    expect(await model.save('img0.png', NONE)).toBe(false);
    expect(model.labeledCount).toBe(301);
  });

  it('takes the server count again on rebase', async () => {
    const model = await started(300);
    saveAnnotations.mockResolvedValueOnce({ ...file(0, CAT), revision: 2 });
    await model.save('img0.png', CAT);
    model.rebase(320); // colleagues labeled 19 more meanwhile
    expect(model.labeledCount).toBe(320);
  });

  it('counts the loaded files when the server count is not known', async () => {
    const model = await started();
    expect(model.labeledCount).toBe(150);
  });
});
