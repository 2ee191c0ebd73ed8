import { formatBytes, percent, shortAge } from '../format';

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(300 * 1024 * 1024)).toBe('300 MiB');
    expect(formatBytes(null)).toBe('');
  });
});

describe('percent', () => {
  it('floors so that 100% means done', () => {
    expect(percent(0.999)).toBe('99%');
    expect(percent(1)).toBe('100%');
    expect(percent(NaN)).toBe('0%');
  });
});

describe('shortAge', () => {
  const now = Date.parse('2026-03-10T12:00:00Z');
  it('is compact', () => {
    expect(shortAge('2026-03-10T11:59:58Z', now)).toBe('now');
    expect(shortAge('2026-03-10T11:59:18Z', now)).toBe('42s');
    expect(shortAge('2026-03-10T11:55:00Z', now)).toBe('5m');
    expect(shortAge('2026-03-10T09:00:00Z', now)).toBe('3h');
    expect(shortAge('2026-03-01T12:00:00Z', now)).toBe('9d');
    expect(shortAge('2025-01-05T12:00:00Z', now)).toBe('2025-01-05');
    expect(shortAge(null, now)).toBe('');
  });
});
