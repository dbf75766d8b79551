/**
 * Keyed runs (the batch path for CSV and JSON lines): RunSpiller sorts and spills in the scanning
 * thread, RunMerge merges on the main thread. The merged bytes must equal an in-memory sort by
 * compareRecords with labels in string order, whatever the spill size, fan-in and line content.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareRecords } from '../../src/events/record';
import { createTempDir, reduceRuns, removeTempDir, RunMerge, RunSpiller, splitKey, writeUpperHalf } from '../../src/events/sorter';
import { mergeAll, rng } from './gen';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sorter-runs-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

interface Rec { sec: number; ns: number; seq: number; ev: { capture: string; frame: number; line: string } }

/** records of several "files" (labels), each with its own seq, lines with any characters */
function records(n: number, seed: number, labels: string[]): Rec[] {
  const r = rng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)];
  const odd = ['plain', 'tab\there', 'nl\ninside', 'ünïcødé 🦀', '\u0000nul', '"quoted",csv', 'x'.repeat(3000)];
  const seqs = new Map<string, number>();
  return Array.from({ length: n }, () => {
    const capture = pick(labels);
    const seq = (seqs.get(capture) ?? 0) + 1;
    seqs.set(capture, seq);
    // few distinct times and frames, so that the later keys decide often
    return { sec: 1_700_000_000 + Math.floor(r() * 20) - 10, ns: Math.floor(r() * 3) * 1000, seq,
      ev: { capture, frame: 1 + Math.floor(r() * 50), line: `${capture} ${seq} ${pick(odd)}\n` } };
  });
}

function spillAll(recs: Rec[], labels: string[], dir: string, maxRecords: number, maxRuns?: number, maxBytes?: number): string[] {
  const rank = new Map([...labels].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((l, i) => [l, i]));
  const files: string[] = [];
  for (const label of labels) {
    const s = new RunSpiller(dir, `f-${rank.get(label)}`, { maxRecords, maxRuns, maxBytes });
    for (const x of recs) if (x.ev.capture === label) s.add(x.sec, x.ns, rank.get(label)!, x.ev.frame, x.seq, x.ev.line);
    files.push(...s.finish());
  }
  return files;
}


describe('keyed runs', () => {
  const labels = ['b.pcap', 'a.pcap', 'dir/ä.pcap', 'Z.pcap'];
  const recs = records(20_000, 11, labels);
  const expected = [...recs].sort(compareRecords).map((x) => x.ev.line).join('');

  it.each([
    { maxRecords: 1, note: 'one record per run' },
    { maxRecords: 97, note: 'many runs' },
    { maxRecords: 100_000, note: 'one run per file' },
  ])('spill every $maxRecords records ($note): merged bytes equal an in-memory sort', ({ maxRecords }) => {
    const dir = fs.mkdtempSync(path.join(tmp, 'm-'));
    // more runs than open files allow: merged down to 64 first, as the main thread does (256)
    const files = reduceRuns(spillAll(recs, labels, dir, maxRecords, 1_000_000), 64, dir);
    expect(mergeAll(files, { chunk: 64, outBytes: 100 })).toBe(expected);
  });

  it('a file with more runs than maxRuns merges its oldest when it ends, down to maxRuns', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'r-'));
    const many = spillAll(recs, labels, dir, 50, 1_000_000);
    const perFile = many.length / labels.length;
    expect(perFile).toBeGreaterThan(5);
    fs.rmSync(dir, { recursive: true });
    fs.mkdirSync(dir);
    const files = spillAll(recs, labels, dir, 50, 4);
    expect(files).toHaveLength(4 * labels.length);
    expect(fs.readdirSync(dir).sort()).toEqual(files.map((f) => path.basename(f)).sort());
    expect(mergeAll(files)).toBe(expected);
    // one run beyond the bound: only the two oldest are merged, the others stay as they were
    const d2 = fs.mkdtempSync(path.join(tmp, 'r2-'));
    const s = new RunSpiller(d2, 'x', { maxRecords: 10, maxRuns: 3 });
    for (let i = 0; i < 40; i++) s.add(i, 0, 0, i, i, `${i}\n`);
    const before = fs.readdirSync(d2).sort();
    expect(before).toHaveLength(3); // the fourth run is written by finish
    const left = s.finish().map((f) => path.basename(f));
    expect(left).toHaveLength(3);
    expect(left).toContain(before[2]);
    expect(mergeAll(left.map((f) => path.join(d2, f)))).toBe(Array.from({ length: 40 }, (_, i) => `${i}\n`).join(''));
  });

  it('a byte budget smaller than a line still spills one record per run; lines larger than every buffer survive', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'b-'));
    const files = spillAll(recs.slice(0, 500), labels, dir, 1000, 1_000_000, 10);
    const want = recs.slice(0, 500).sort(compareRecords).map((x) => x.ev.line).join('');
    expect(mergeAll(files, { chunk: 16, outBytes: 16 })).toBe(want);
  });

  it('reduceRuns merges down to the fan-in with the same result', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'f-'));
    const files = spillAll(recs, labels, dir, 300, 1_000_000);
    expect(files.length).toBeGreaterThan(40);
    const reduced = reduceRuns(files, 5, dir);
    expect(reduced.length).toBeLessThanOrEqual(5);
    expect(fs.readdirSync(dir)).toHaveLength(reduced.length);
    expect(mergeAll(reduced)).toBe(expected);
  });

  it('equal keys are ordered by the line bytes, not by arrival', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'e-'));
    const a = new RunSpiller(dir, 'a', { maxRecords: 2 });
    for (const l of ['c\n', 'a\n', 'b\n']) a.add(1, 0, 0, 1, 1, l);
    expect(mergeAll(a.finish())).toBe('a\nb\nc\n');
  });

  it('createTempDir / removeTempDir', async () => {
    const d = await createTempDir(tmp);
    expect(fs.statSync(d).isDirectory()).toBe(true);
    await removeTempDir(d);
    expect(fs.existsSync(d)).toBe(false);
  });

  it('a truncated run is an error, not a silent loss', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 't-'));
    const s = new RunSpiller(dir, 't', { maxRecords: 10 });
    for (let i = 0; i < 5; i++) s.add(i, 0, 0, i, i, `line ${i}\n`);
    const [file] = s.finish();
    fs.truncateSync(file, fs.statSync(file).size - 3);
    expect(() => mergeAll([file])).toThrow(/truncated run/);
  });

  describe('split in two at a key (the final merge with two jobs)', () => {
    it('the halves below and from any key, one after the other, are the whole merge; writeUpperHalf puts its half at its place', () => {
      const dir = fs.mkdtempSync(path.join(tmp, 's-'));
      // merged runs too: their heads are written after the merge (reduceRuns)
      const files = reduceRuns(spillAll(recs, labels, dir, 97, 1_000_000), 16, dir);
      const { key, count } = splitKey(files);
      expect(count).toBe(recs.length);
      const r = rng(5);
      // the median cut, the extremes, and keys of actual records (ties at the cut go above it)
      const keys = [key, [0, 0, 0, 0, 0], [Infinity, 0, 0, 0, 0]];
      for (let i = 0; i < 5; i++) {
        const x = recs[Math.floor(r() * recs.length)];
        keys.push([x.sec, x.ns, [...labels].sort().indexOf(x.ev.capture), x.ev.frame, x.seq]);
      }
      for (const k of keys) {
        const lower = mergeAll(files, { until: k }), upper = mergeAll(files, { from: k });
        expect(lower + upper).toBe(expected);
        // the upper half written by position after a 7-byte prefix, the lower half not yet there
        const out = path.join(dir, 'out');
        const fd = fs.openSync(out, 'w+');
        try {
          writeUpperHalf(files, k, fd, 7);
        } finally {
          fs.closeSync(fd);
        }
        const got = fs.readFileSync(out);
        // nothing above the cut: nothing written at all
        expect(got.length).toBe(upper === '' ? 0 : 7 + Buffer.byteLength(expected));
        expect(got.subarray(7 + Buffer.byteLength(lower)).toString('utf8')).toBe(upper);
      }
    });

    it('the median of the runs\' middle keys cuts the records about in half', () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'h-'));
      const files = spillAll(recs, labels, dir, 500, 1_000_000);
      const { key } = splitKey(files);
      const m = new RunMerge(files, { from: key });
      m.close();
      const lowerBytes = m.skippedBytes, all = Buffer.byteLength(expected);
      expect(lowerBytes / all).toBeGreaterThan(0.3);
      expect(lowerBytes / all).toBeLessThan(0.7);
    });

    it('the upper half starts from the index, without reading the records below its cut', () => {
      const one = fs.mkdtempSync(path.join(tmp, 'i-')), many = fs.mkdtempSync(path.join(tmp, 'j-'));
      // one run per label (and merged runs, whose index reduceRuns writes)
      for (const files of [spillAll(recs, labels, one, 1_000_000), reduceRuns(spillAll(recs, labels, many, 700, 1_000_000), 4, many)]) {
        const sorted = [...recs].sort(compareRecords);
        const cut = sorted[Math.floor(sorted.length * 0.8)];
        const k = [cut.sec, cut.ns, [...labels].sort().indexOf(cut.ev.capture), cut.ev.frame, cut.seq];
        const upper = mergeAll(files, { from: k });
        expect(upper).toBe(sorted.slice(Math.floor(sorted.length * 0.8)).map((x) => x.ev.line).join(''));
        const m = new RunMerge(files, { from: k });
        m.close();
        expect(m.skippedBytes).toBe(Buffer.byteLength(expected) - Buffer.byteLength(upper));
        // the first half of every run's records overwritten: reading them would fail
        for (const f of files) {
          const fd = fs.openSync(f, 'r+');
          try {
            fs.writeSync(fd, Buffer.alloc(Math.floor(fs.statSync(f).size * 0.4), 0xff), 0, undefined, 200);
          } finally {
            fs.closeSync(fd);
          }
        }
        expect(() => mergeAll(files)).toThrow(/corrupt run|truncated run/);
        expect(mergeAll(files, { from: k })).toBe(upper);
      }
    });

    it('a file that is not a run is refused by name', () => {
      const file = path.join(tmp, 'not-a-run');
      fs.writeFileSync(file, 'hello, this is not a sorted run of smbtrail at all.............');
      expect(() => splitKey([file])).toThrow(/not a sorted run: .*not-a-run/);
      expect(() => mergeAll([file])).toThrow(/not a sorted run/);
    });
  });
});

describe('RunMerge lets each run go as soon as it is read to its end', () => {
  const openFds = (file: string): number => fs.readdirSync('/proc/self/fd').filter((fd) => {
    try { return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(file); } catch { return false; }
  }).length;
  it.skipIf(!fs.existsSync('/proc/self/fd'))('closes a run once exhausted (its pages can be freed while the merge goes on), and unlinked runs still merge', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'early-'));
    // one file's runs of 100 records each, in time order: run k holds seconds 100k..100k+99
    const s = new RunSpiller(dir, 'e', { maxRecords: 100 });
    for (let i = 0; i < 1000; i++) s.add(1_700_000_000 + i, 0, 0, i + 1, i + 1, `line ${i}\n`);
    const runs = s.finish();
    expect(runs.length).toBe(10);
    const m = new RunMerge(runs, { outBytes: 64 });
    // the names may go once the merge holds the runs open (run-scan does this)
    for (const f of runs) fs.rmSync(f);
    expect(openFds(runs[0])).toBe(1);
    let text = '';
    // through the first run and a little beyond: the first run's descriptor is gone, the last's is not
    while (!text.includes('line 105\n')) text += (m.next() as Buffer).toString();
    expect(openFds(runs[0])).toBe(0);
    expect(openFds(runs[9])).toBe(1);
    for (let b = m.next(); b !== null; b = m.next()) text += b.toString();
    expect(text).toBe(Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join(''));
    expect(openFds(runs[9])).toBe(0);
    m.close();
  });
});
