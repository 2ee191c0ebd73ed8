import { crc32Base64, crc32OfBlob, crc32Update } from '../uploads/crc32';

// Expected values from Python's zlib.crc32, which the service and S3 compute.
const pattern = (n: number): Uint8Array<ArrayBuffer> =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);

describe('crc32', () => {
  it.each([
    ['the check value', new TextEncoder().encode('123456789'), 'y/Q5Jg=='],
    ['no bytes', new Uint8Array(0), 'AAAAAA=='],
    ['100,003 bytes', pattern(100003), 'FzQJYw==']
  ])('matches zlib for %s', (_, bytes, expected) => {
    expect(crc32Base64(crc32Update(0, bytes))).toBe(expected);
  });

  it('gives the same CRC when the bytes come in uneven chunks', () => {
    const bytes = pattern(100003);
    let crc = 0;
    for (const [start, end] of [
      [0, 1],
      [1, 9],
      [9, 4096],
      [4096, 65539],
      [65539, 100003]
    ]) {
      crc = crc32Update(crc, bytes.subarray(start, end));
    }
    expect(crc32Base64(crc)).toBe('FzQJYw==');
  });

  it('reads a Blob part as a stream', async () => {
    const blob = new Blob([pattern(100003)]).slice(0, 100003);
    await expect(crc32OfBlob(blob)).resolves.toBe('FzQJYw==');
  });

  it('stops reading when the upload is cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      crc32OfBlob(new Blob([pattern(10)]), controller.signal)
    ).rejects.toThrow('cancelled');
  });
});
