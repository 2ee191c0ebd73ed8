import { isLabeled, keyAction, nextUnlabeled } from '../datasets/keys';

describe('keyAction', () => {
  it('maps number keys to the labels that exist', () => {
    expect(keyAction({ key: '1' }, 'classification', 3)).toEqual({
      kind: 'label',
      index: 0
    });
    expect(keyAction({ key: '3' }, 'classification', 3)).toEqual({
      kind: 'label',
      index: 2
    });
    expect(keyAction({ key: '4' }, 'classification', 3)).toBeNull();
    expect(keyAction({ key: '0' }, 'classification', 3)).toEqual({
      kind: 'clear'
    });
  });

  it('navigates with n/p and the arrows', () => {
    for (const key of ['n', 'N', 'ArrowRight']) {
      expect(keyAction({ key }, 'classification', 2)).toEqual({ kind: 'next' });
    }
    for (const key of ['p', 'ArrowLeft']) {
      expect(keyAction({ key }, 'detection', 2)).toEqual({ kind: 'previous' });
    }
  });

  it('deletes and deselects boxes only in detection', () => {
    expect(keyAction({ key: 'Delete' }, 'detection', 2)).toEqual({
      kind: 'delete'
    });
    expect(keyAction({ key: 'Delete' }, 'classification', 2)).toBeNull();
    expect(keyAction({ key: 'Escape' }, 'detection', 2)).toEqual({
      kind: 'deselect'
    });
  });

  it('ignores typing and modified keys', () => {
    expect(
      keyAction({ key: '1', targetTag: 'input' }, 'classification', 3)
    ).toBeNull();
    expect(
      keyAction({ key: 'n', ctrlKey: true }, 'classification', 3)
    ).toBeNull();
    expect(keyAction({ key: 'x' }, 'classification', 3)).toBeNull();
  });
});

describe('nextUnlabeled', () => {
  it('finds the next unlabeled file, wrapping around', () => {
    expect(nextUnlabeled([true, false, true, false], 1)).toBe(3);
    expect(nextUnlabeled([false, true, true, true], 2)).toBe(0);
    expect(nextUnlabeled([true, true], 0)).toBe(-1);
    expect(nextUnlabeled([false], 0)).toBe(0);
    expect(nextUnlabeled([], 0)).toBe(-1);
  });

  it('knows what labeled means per view', () => {
    expect(isLabeled({ labels: ['cat'], boxes: [] }, 'classification')).toBe(
      true
    );
    expect(isLabeled({ labels: ['cat'], boxes: [] }, 'detection')).toBe(false);
    expect(isLabeled(null, 'detection')).toBe(false);
  });
});
