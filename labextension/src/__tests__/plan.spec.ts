import {
  backoffDelay,
  cleanRelativePath,
  isRetryable,
  joinPath,
  missingParts,
  overallProgress,
  parseRecords,
  partsToVerify,
  planParts,
  receivedBytes,
  sameFile,
  xsrfFromCookie
} from '../uploads/plan';

const MiB = 1 << 20;

describe('planParts', () => {
  it('cuts a file into numbered parts, the last one holding the rest', () => {
    const parts = planParts(300 * MiB + 5, 16 * MiB);
    expect(parts).toHaveLength(19);
    expect(parts[0]).toEqual({ number: 1, start: 0, end: 16 * MiB });
    expect(parts[18]).toEqual({
      number: 19,
      start: 18 * 16 * MiB,
      end: 300 * MiB + 5
    });
    const total = parts.reduce((s, p) => s + p.end - p.start, 0);
    expect(total).toBe(300 * MiB + 5);
  });

  it('gives one part for small files and none for empty ones', () => {
    expect(planParts(10, 16 * MiB)).toEqual([{ number: 1, start: 0, end: 10 }]);
    expect(planParts(0, 16 * MiB)).toEqual([]);
    expect(planParts(32 * MiB, 16 * MiB)).toHaveLength(2);
  });

  it('refuses a bad part size', () => {
    expect(() => planParts(10, 0)).toThrow();
  });
});

describe('resume planning', () => {
  const plan = planParts(50, 16);
  it('sends only what the server lacks', () => {
    const missing = missingParts(plan, [
      { number: 1, size: 16 },
      { number: 3, size: 16 }
    ]);
    expect(missing.map(p => p.number)).toEqual([2, 4]);
    expect(receivedBytes(plan, [{ number: 1, size: 16 }])).toBe(16);
  });

  it('re-sends a part of the wrong length', () => {
    const missing = missingParts(plan, [
      { number: 1, size: 16 },
      { number: 2, size: 7 },
      { number: 3, size: 16 },
      { number: 4, size: 2 }
    ]);
    expect(missing.map(p => p.number)).toEqual([2]);
  });

  it('checks the CRC32 of the parts it would keep, where the server has one', () => {
    const toCheck = partsToVerify(plan, [
      { number: 1, size: 16, crc32: 'AAAAAA==' },
      { number: 2, size: 7, crc32: 'BBBBBB==' }, // cut short: re-sent anyway
      { number: 3, size: 16, crc32: null }, // kept on its length alone
      { number: 4, size: 2, crc32: 'CCCCCC==' }
    ]);
    expect(toCheck.map(c => [c.part.number, c.crc32])).toEqual([
      [1, 'AAAAAA=='],
      [4, 'CCCCCC==']
    ]);
  });

  it('matches the picked file to the record', () => {
    const record = {
      id: 'a',
      name: 'big.bin',
      size: 5,
      lastModified: 7,
      space: 'user:pat',
      path: 'big.bin'
    };
    expect(
      sameFile(record, { name: 'big.bin', size: 5, lastModified: 7 })
    ).toBe(true);
    expect(
      sameFile(record, { name: 'big.bin', size: 6, lastModified: 7 })
    ).toBe(false);
    expect(parseRecords(JSON.stringify([record, { id: 1 }, null]))).toEqual([
      record
    ]);
    expect(parseRecords('not json')).toEqual([]);
    expect(parseRecords(null)).toEqual([]);
  });
});

describe('retries', () => {
  it('backs off exponentially with jitter, capped', () => {
    expect(backoffDelay(0, 0)).toBe(250);
    expect(backoffDelay(0, 1)).toBe(500);
    expect(backoffDelay(3, 1)).toBe(4000);
    expect(backoffDelay(20, 1)).toBe(15_000);
    expect(backoffDelay(20, 0)).toBe(7500);
  });

  it('retries network errors, timeouts and server errors only', () => {
    expect(isRetryable(0)).toBe(true);
    expect(isRetryable(503)).toBe(true);
    expect(isRetryable(429)).toBe(true);
    expect(isRetryable(404)).toBe(false);
    expect(isRetryable(409)).toBe(false);
  });

  it.each([
    [
      'bytes changed on the way',
      'X-TZ-Checksum-CRC32: part 3 arrived with other bytes',
      true
    ],
    ['any other bad request', 'number: must be from 1 to 19', false]
  ])('retries a 400 only when %s', (_, message, expected) => {
    expect(isRetryable(400, message)).toBe(expected);
  });
});

describe('paths and progress', () => {
  it('joins and cleans paths', () => {
    expect(joinPath('', 'a/', '/b', 'c.txt')).toBe('a/b/c.txt');
    expect(joinPath('')).toBe('');
    expect(cleanRelativePath('/photos/../x\\y/./z.jpg')).toBe(
      'photos/x/y/z.jpg'
    );
  });

  it('adds up progress over files', () => {
    expect(
      overallProgress([
        { sent: 50, size: 100 },
        { sent: 0, size: 100 }
      ])
    ).toBe(0.25);
    expect(overallProgress([])).toBe(1);
  });

  it('reads the last _xsrf cookie', () => {
    expect(xsrfFromCookie('a=1; _xsrf=one; b=2; _xsrf=two')).toBe('two');
    expect(xsrfFromCookie('a=1')).toBeUndefined();
  });
});
