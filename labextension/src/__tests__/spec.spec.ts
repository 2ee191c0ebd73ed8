import {
  defaultJobName,
  formErrorsFromServer,
  IFormValues,
  normalizePath,
  parseEnv,
  parseInteger,
  splitArgs,
  validateForm
} from '../jobs/spec';

const VALUES: IFormValues = {
  script: 'project/src/train.py',
  workdir: '',
  name: 'mnist',
  framework: 'pytorch',
  nodes: '2',
  procs_per_node: '4',
  gpus: '1',
  args: '--epochs 2 --tag "a b"',
  env: 'A=1\n# comment\n\nB=x=y',
  max_retries: '1',
  timeout: '600'
};

describe('splitArgs', () => {
  it.each([
    ['', []],
    ['  ', []],
    ['--lr 0.1', ['--lr', '0.1']],
    ['a  "b c"  d', ['a', 'b c', 'd']],
    ["'it''s' x", ['its', 'x']],
    ["a'b c'd", ['ab cd']],
    ['"say \\"hi\\"" \\$HOME', ['say "hi"', '$HOME']],
    ['"\\n stays"', ['\\n stays']],
    ['a\\ b', ['a b']],
    ['""', ['']],
    ['a \\\nb', ['a', 'b']]
  ])('splits %p', (text, expected) => {
    expect(splitArgs(text)).toEqual(expected);
  });

  it.each(['"open', "'open", 'trailing\\'])('rejects %p', text => {
    expect(() => splitArgs(text)).toThrow();
  });
});

describe('parseEnv', () => {
  it('parses KEY=VALUE lines, skipping blanks and comments', () => {
    expect(parseEnv('A=1\n\n# c\nB=x=y\r\nEMPTY=')).toEqual({
      A: '1',
      B: 'x=y',
      EMPTY: ''
    });
  });

  it.each([
    ['NOEQUALS', /line 1: expected KEY=VALUE/],
    ['1A=x', /invalid variable name/],
    ['TZ_JOB_ID=x', /reserved/],
    ['A=1\nA=2', /line 2: A is set twice/]
  ])('rejects %p', (text, message) => {
    expect(() => parseEnv(text)).toThrow(message);
  });
});

describe('paths and names', () => {
  it('normalizes paths', () => {
    expect(normalizePath('/a//b/./c.py')).toBe('a/b/c.py');
    expect(normalizePath('')).toBe('');
    expect(() => normalizePath('a/../../b')).toThrow();
  });

  it('derives job names', () => {
    expect(defaultJobName('dir/train.py')).toBe('train');
    expect(defaultJobName('my script (1).py')).toBe('my-script-1');
    expect(defaultJobName('.py')).toBe('job');
    expect(defaultJobName('x'.repeat(80) + '.py')).toHaveLength(63);
  });

  it('parses integers with a minimum', () => {
    expect(parseInteger(' 3 ', 1)).toEqual({ value: 3 });
    expect(parseInteger('0', 1)).toEqual({ error: 'Must be at least 1' });
    expect(parseInteger('1.5', 0)).toHaveProperty('error');
    expect(parseInteger('', 0)).toHaveProperty('error');
  });
});

describe('validateForm', () => {
  it('builds the spec with the entry relative to the script folder', () => {
    const result = validateForm(VALUES);
    expect(result).toEqual({
      ok: true,
      submission: {
        folder: 'project/src',
        spec: {
          name: 'mnist',
          framework: 'pytorch',
          entry: 'train.py',
          args: ['--epochs', '2', '--tag', 'a b'],
          env: { A: '1', B: 'x=y' },
          nodes: 2,
          procs_per_node: 4,
          resources_per_node: { gpus: 1 },
          max_retries: 1,
          timeout: 600
        }
      }
    });
  });

  it('uses a parent snapshot folder when given', () => {
    const result = validateForm({ ...VALUES, workdir: 'project' });
    expect(result.ok && result.submission.folder).toBe('project');
    expect(result.ok && result.submission.spec.entry).toBe('src/train.py');
  });

  it('snapshots the Lab root for a script at the root', () => {
    const result = validateForm({ ...VALUES, script: 'train.py' });
    expect(result.ok && result.submission.folder).toBe('');
    expect(result.ok && result.submission.spec.entry).toBe('train.py');
  });

  it('reports every invalid field', () => {
    const result = validateForm({
      ...VALUES,
      script: '',
      name: 'bad name!',
      nodes: '0',
      procs_per_node: 'x',
      gpus: '-1',
      args: '"open',
      env: 'nope',
      max_retries: '-2',
      timeout: '1.5'
    });
    expect(result.ok).toBe(false);
    expect(!result.ok && Object.keys(result.errors).sort()).toEqual(
      [
        'args',
        'env',
        'gpus',
        'max_retries',
        'name',
        'nodes',
        'procs_per_node',
        'script',
        'timeout'
      ].sort()
    );
  });

  it('rejects a script outside the snapshot folder', () => {
    const result = validateForm({ ...VALUES, workdir: 'other' });
    expect(!result.ok && result.errors.workdir).toBeTruthy();
  });
});

describe('formErrorsFromServer', () => {
  it('maps API fields onto form fields', () => {
    expect(
      formErrorsFromServer({
        entry: 'no such file',
        'resources_per_node.gpus': 'too many',
        priority: 'ignored'
      })
    ).toEqual({ script: 'no such file', gpus: 'too many' });
  });
});
