/** Event times: ISO 8601 UTC with the capture's precision, for any timestamp a file can hold. */
import { describe, expect, it } from 'vitest';
import { civil, isoTime } from '../../src/events/record';

describe('isoTime / civil', () => {
  it('agrees with Date where Date can represent the time', () => {
    for (const t of [0, -1, 951782400, 1700000000, 4102444800, 253402300799, -62135596800]) {
      expect(civil(t)).toBe(new Date(t * 1000).toISOString().slice(0, 19));
    }
  });
  it('keeps the capture precision: 6 digits for µs, 9 for ns', () => {
    expect(isoTime({ sec: 1700000000, ns: 123456000, digits: 6, frame: 1, capture: 'c' })).toBe('2023-11-14T22:13:20.123456Z');
    expect(isoTime({ sec: 1700000000, ns: 5, digits: 9, frame: 1, capture: 'c' })).toBe('2023-11-14T22:13:20.000000005Z');
    expect(isoTime({ sec: 1700000000, ns: 0, digits: 0, frame: 1, capture: 'c' })).toBe('2023-11-14T22:13:20Z');
  });
  it('formats 64-bit pcapng timestamps beyond Date\'s range instead of throwing', () => {
    expect(civil(1e15)).toBe('+31690708-07-05T01:46:40');
    expect(isoTime({ sec: 1.8e13, ns: 0, digits: 6, frame: 1, capture: 'c' })).toMatch(/^\+\d{6,}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/);
  });
});
