/**
 * A split final merge (lower half through RunMerge{until}, upper half by writeUpperHalf at base +
 * skippedBytes) must give the bytes of the whole merge, for ties at the cut, lines longer than
 * every buffer, non-ASCII lines; and errors reading the runs' heads must be SorterErrors like every
 * other run-reading error (found in review).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reduceRuns, RunMerge, RunSpiller, SorterError, splitKey, writeUpperHalf } from '../../src/events/sorter';
import { EVENT_FIELDS, eventValues, SmbEvent } from '../../src/events/event';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'split-review-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

function whole(files: string[], o: { until?: number[] } = {}): Buffer {
  const m = new RunMerge(files, o);
  const parts: Buffer[] = [];
  try { for (let b = m.next(Buffer.allocUnsafe(256 * 1024)); b !== null; b = m.next(Buffer.allocUnsafe(256 * 1024))) parts.push(Buffer.from(b)); } finally { m.close(); }
  return Buffer.concat(parts);
}

function split(files: string[], key: number[], base: number): Buffer {
  const out = path.join(tmp, `out-${Math.random()}`);
  const fd = fs.openSync(out, 'w+');
  try {
    fs.writeSync(fd, Buffer.alloc(base, 'H'), 0, base, 0);
    const lower = whole(files, { until: key });
    writeUpperHalf(files, key, fd, base);
    fs.writeSync(fd, lower, 0, lower.length, base);
  } finally { fs.closeSync(fd); }
  return fs.readFileSync(out).subarray(base);
}

describe('split merge', () => {
  it('ties exactly at the cut, huge and non-ASCII lines: lower + upper = whole', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'ties-'));
    const files: string[] = [];
    const lines = (i: number, r: number): string => (i % 97 === 0 ? `${r}:${i} ${'ü'.repeat(700_000)}\n` // 1.4 MB of UTF-8
      : i % 31 === 0 ? `${r}:${i} ${'x'.repeat(300_000)}\n` : `${r}:${i} ünïcødé 🦀 ${i}\n`);
    for (let r = 0; r < 7; r++) {
      const s = new RunSpiller(dir, `r${r}`, { maxRecords: 50 });
      // few distinct keys: many records share the key the cut is made at
      for (let i = 0; i < 400; i++) s.add(1_700_000_000 + (i % 3), 0, 0, 1, i % 2, lines(i, r));
      files.push(...s.finish());
    }
    const runs = reduceRuns(files, 4, dir);
    const all = whole(runs);
    const { key, count } = splitKey(runs);
    expect(count).toBe(7 * 400);
    for (const k of [key, [1_700_000_001, 0, 0, 1, 0], [1_700_000_001, 0, 0, 1, 1], [0, 0, 0, 0, 0], [2e9, 0, 0, 0, 0]]) {
      const got = split(runs, k, 13);
      expect(got.length).toBe(all.length);
      expect(got.equals(all)).toBe(true);
    }
  });

  it('a run that cannot be opened while reading the heads: a SorterError, as from RunMerge', () => {
    const missing = path.join(tmp, 'gone.run');
    expect(() => new RunMerge([missing])).toThrow(SorterError);
    expect(() => splitKey([missing])).toThrow(SorterError);
  });
});

describe('eventValues', () => {
  it('gives every field of SmbEvent in EVENT_FIELDS order', () => {
    const e = Object.fromEntries(EVENT_FIELDS.map((k, i) => [k, `v${i}`])) as unknown as SmbEvent;
    const out: unknown[] = [];
    eventValues(e, out);
    expect(out).toEqual(EVENT_FIELDS.map((k) => e[k]));
    expect(new Set(EVENT_FIELDS).size).toBe(EVENT_FIELDS.length);
  });
});
