import { modelPath, versionFilePath, versionPath } from '../api/paths';
import { fileName, shortSha, sortedFiles } from '../models/files';

describe('model routes', () => {
  it('encodes the model id and the version', () => {
    expect(modelPath('mdl-0123456789ab')).toBe('models/mdl-0123456789ab');
    expect(modelPath('a/b')).toBe('models/a%2Fb');
    expect(versionPath('mdl-1', 3)).toBe('models/mdl-1/versions/3');
  });

  it('builds a file path, each segment encoded on its own', () => {
    expect(versionFilePath('mdl-1', 2, 'tz-model.json')).toBe(
      'models/mdl-1/versions/2/files/tz-model.json'
    );
    expect(versionFilePath('mdl-1', 2, 'weights/model #1.pt')).toBe(
      'models/mdl-1/versions/2/files/weights/model%20%231.pt'
    );
    expect(versionFilePath('mdl-1', 1, 'a?b/c%d/é&.bin')).toBe(
      'models/mdl-1/versions/1/files/a%3Fb/c%25d/%C3%A9%26.bin'
    );
  });

  it('refuses paths with empty, . or .. segments', () => {
    for (const bad of ['', '/abs', 'a//b', 'a/', './a', 'a/../b', '..']) {
      expect(() => versionFilePath('mdl-1', 1, bad)).toThrow(/Not a file path/);
    }
  });
});

describe('files section helpers', () => {
  it('saves a download under the last segment', () => {
    expect(fileName('model.pt')).toBe('model.pt');
    expect(fileName('onnx/model.onnx')).toBe('model.onnx');
    expect(fileName('')).toBe('file');
  });

  it('shows the first 12 characters of a sha256', () => {
    const sha =
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    expect(shortSha(sha)).toBe('e3b0c44298fc');
    expect(shortSha(null)).toBe('');
  });

  it('sorts by path without changing the input', () => {
    const files = [{ path: 'b' }, { path: 'a/z' }, { path: 'B' }];
    expect(sortedFiles(files).map(f => f.path)).toEqual(['B', 'a/z', 'b']);
    expect(files[0].path).toBe('b');
  });
});
