import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareRecords, EventRecord } from '../../src/events/record';
import { compareRecordsTotal, createEventSorter, EventSorter, SorterOptions } from '../../src/events/sorter';
import { rec, rng, synthetic } from './gen';

let tmp: string;
beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sorter-test-')); });
afterEach(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

/** adds honouring backpressure, returns everything finish() yields */
async function sortAll(records: Iterable<EventRecord>, opts: SorterOptions = {}): Promise<{ out: EventRecord[]; sorter: EventSorter }> {
  const sorter = createEventSorter({ tmpDir: tmp, ...opts });
  for (const r of records) if (!sorter.add(r)) await sorter.drained();
  const out: EventRecord[] = [];
  for await (const r of sorter.finish()) out.push(r);
  return { out, sorter };
}

const jsonl = (rs: EventRecord[]): string => rs.map((r) => JSON.stringify(r)).join('\n');
const leftovers = (): string[] => fs.readdirSync(tmp);

function shuffled<T>(a: readonly T[], seed: number): T[] {
  const r = rng(seed);
  const b = a.slice();
  for (let i = b.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [b[i], b[j]] = [b[j], b[i]];
  }
  return b;
}

describe('in memory (nothing spilled)', () => {
  it('zero records: nothing, and no temporary directory', async () => {
    const { out, sorter } = await sortAll([]);
    expect(out).toEqual([]);
    expect(sorter.spilledRuns).toBe(0);
    expect(sorter.tempDir).toBeNull();
    expect(leftovers()).toEqual([]);
  });

  it('one record comes back as is', async () => {
    const r = rec(1_700_000_000, 5, 'a.pcap', 3, 0);
    const { out } = await sortAll([r]);
    expect(out).toEqual([r]);
  });

  it('orders by sec, then ns, then capture, frame and seq', async () => {
    const want = [
      rec(99, 999_999_999, 'z.pcap', 9, 9),
      rec(100, 0, 'b.pcap', 1, 0),
      rec(100, 1, 'a.pcap', 50, 0),
      rec(100, 2, 'a.pcap', 1, 0),
      rec(100, 2, 'b.pcap', 0, 0),
      rec(100, 2, 'b.pcap', 7, 1),
      rec(100, 2, 'b.pcap', 7, 2),
      rec(100, 2, 'b.pcap', 8, 0),
      rec(4_102_444_800_123, 0, 'a.pcap', 1, 0), // far beyond Date's range
    ];
    const { out } = await sortAll(shuffled(want, 3));
    expect(out).toEqual(want);
  });

  it('all equal timestamps: capture, frame, then wire order', async () => {
    const input = [...synthetic(500, 11)].map((r) => ({ ...r, sec: 42, ns: 7 }));
    const { out } = await sortAll(input);
    expect(out).toEqual(input.slice().sort(compareRecords));
    for (let i = 1; i < out.length; i++) expect(compareRecords(out[i - 1], out[i])).toBeLessThan(0);
  });

  it('exactly maxInMemory records stay in memory; one more spills one run', async () => {
    const input = [...synthetic(100, 5)];
    const exact = await sortAll(input, { maxInMemory: 100 });
    expect(exact.sorter.spilledRuns).toBe(0);
    expect(exact.sorter.tempDir).toBeNull();
    const more = [...input, ...synthetic(1, 6)];
    const over = await sortAll(more, { maxInMemory: 100 });
    expect(over.sorter.spilledRuns).toBe(1);
    expect(jsonl(exact.out)).toBe(jsonl(input.slice().sort(compareRecords)));
    expect(jsonl(over.out)).toBe(jsonl(more.slice().sort(compareRecords)));
    expect(leftovers()).toEqual([]);
  });
});

describe('spilled runs and their merge', () => {
  const input = [...synthetic(1000, 21, 3)];
  const want = jsonl(input.slice().sort(compareRecords));

  it.each([
    [1, 64], [2, 2], [3, 3], [7, 2], [10, 4], [97, 64], [333, 2], [999, 64],
  ])('maxInMemory %i, maxFanIn %i: the same order as an in-memory sort', async (maxInMemory, maxFanIn) => {
    const { out, sorter } = await sortAll(input, { maxInMemory, maxFanIn, chunkBytes: 512 });
    expect(sorter.spilledRuns).toBe(Math.ceil(input.length / maxInMemory) - 1);
    expect(jsonl(out)).toBe(want);
    expect(sorter.tempDir).toBeNull();
    expect(leftovers()).toEqual([]);
  });

  it('records come back with their key order and values exact', async () => {
    const { out } = await sortAll(input, { maxInMemory: 50 });
    const byKey = new Map(input.map((r) => [`${r.ev.capture}|${r.ev.frame}|${r.seq}`, r]));
    for (const r of out) {
      const orig = byKey.get(`${r.ev.capture}|${r.ev.frame}|${r.seq}`)!;
      expect(Object.keys(r)).toEqual(['sec', 'ns', 'seq', 'ev']);
      expect(Object.keys(r.ev)).toEqual(Object.keys(orig.ev));
      expect(r).toStrictEqual(orig);
    }
  });

  it('the run file is one JSON line per record', async () => {
    const sorter = createEventSorter({ tmpDir: tmp, maxInMemory: 3 });
    const rs = [rec(3, 0, 'a', 1, 0), rec(1, 0, 'a', 2, 0), rec(2, 0, 'a', 3, 0), rec(0, 0, 'a', 4, 0)];
    for (const r of rs) sorter.add(r);
    await sorter.drained();
    const files = fs.readdirSync(sorter.tempDir!);
    expect(files).toHaveLength(1);
    const lines = fs.readFileSync(path.join(sorter.tempDir!, files[0]), 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual([rs[1], rs[2], rs[0]]);
    expect(lines[0].startsWith('{"sec":1,"ns":0,"seq":0,"ev":{"ts":')).toBe(true);
    await sorter.cleanup();
  });
});

describe('deterministic whatever the arrival order', () => {
  // three "workers" each emit their capture's records in order; they interleave differently each run
  const input = [...synthetic(2000, 8, 3)].map((r) => ({ ...r, sec: 1000 + (r.sec % 3) })); // many time ties
  // records equal on every key the comparator knows (a capture seen twice) still differ in content
  const dupA = rec(1001, 0, 'dup.pcap', 5, 0, { path: 'one' });
  const dupB = rec(1001, 0, 'dup.pcap', 5, 0, { path: 'two' });
  const all = [...input, dupA, dupB];

  it.each([
    ['in memory', {}],
    ['spilled, one merge', { maxInMemory: 150 }],
    ['spilled, multi-pass merge', { maxInMemory: 37, maxFanIn: 3, chunkBytes: 2000 }],
  ] as [string, SorterOptions][])('%s: shuffled input, byte-identical output', async (_label, opts) => {
    const outputs = new Set<string>();
    for (const seed of [1, 2, 3, 4]) {
      const { out } = await sortAll(shuffled(all, seed), opts);
      expect(out).toHaveLength(all.length);
      outputs.add(jsonl(out));
    }
    outputs.add(jsonl((await sortAll(all.slice().reverse(), opts)).out));
    expect(outputs.size).toBe(1);
    const [only] = outputs;
    expect(only).toBe(jsonl(all.slice().sort(compareRecordsTotal)));
    expect(only.indexOf('"path":"one"')).toBeLessThan(only.indexOf('"path":"two"'));
  });

  it('compareRecordsTotal agrees with compareRecords whenever that one decides', () => {
    const a = rec(1, 0, 'a', 1, 0);
    const b = rec(1, 0, 'a', 1, 1);
    expect(compareRecordsTotal(a, b)).toBe(compareRecords(a, b));
    expect(compareRecordsTotal(dupA, dupB)).toBeLessThan(0);
    expect(compareRecordsTotal(dupB, dupA)).toBeGreaterThan(0);
    expect(compareRecordsTotal(dupA, { ...dupA })).toBe(0);
  });
});

describe('strings survive the JSON round trip exactly', () => {
  const nasty = [
    'line\nfeed', 'carriage\rreturn\r\n', 'sep\u2028and\u2029para', 'nul\u0000bel\u0007esc\u001b\u001f\u007f',
    'quote" back\\slash \\\\server\\C$', 'tab\tform\fback\b', 'é日本語🙂\u{10FFFF}', 'lone \ud800 high', 'lone \udfff low',
    '\ufeffbom', '', ' '.repeat(5000) + 'long',
  ];
  const input = nasty.flatMap((s, i) => [
    rec(5, 0, `cap\n${i}`, i, 0, { path: s, user: s, new_path: s.split('').reverse().join(''), access: [s, 'READ'], flags: [] }),
    rec(4, 9, `cap${i}`, i, 1, { share: `\\\\h\\${s}`, domain: null, bytes: Number.MAX_SAFE_INTEGER - i }),
  ]);

  it.each([64, 7, 1 << 16])('chunkBytes %i (records straddling chunk boundaries, multi-byte characters split)', async (chunkBytes) => {
    const { out, sorter } = await sortAll(input, { maxInMemory: 3, chunkBytes });
    expect(sorter.spilledRuns).toBeGreaterThan(5);
    expect(out).toStrictEqual(input.slice().sort(compareRecords));
    const got = new Set(out.map((r) => r.ev.path));
    for (const s of nasty) expect(got.has(s)).toBe(true);
  });
});

describe('backpressure', () => {
  it('add() returns false while a spill is written; drained() resolves after it', async () => {
    const sorter = createEventSorter({ tmpDir: tmp, maxInMemory: 10 });
    const gen = synthetic(11, 2);
    const flags: boolean[] = [];
    for (const r of gen) flags.push(sorter.add(r));
    expect(flags.slice(0, 10).every(Boolean)).toBe(true);
    expect(flags[10]).toBe(false);
    await sorter.drained();
    expect(sorter.add(rec(1, 0, 'x', 1, 0))).toBe(true);
    expect(sorter.count).toBe(12);
    expect(fs.readdirSync(sorter.tempDir!)).toHaveLength(1);
    await sorter.cleanup();
  });

  it('a producer that ignores it still gets everything in order (spills queue up)', async () => {
    const input = [...synthetic(5000, 4)];
    const sorter = createEventSorter({ tmpDir: tmp, maxInMemory: 100, maxFanIn: 8 });
    for (const r of input) sorter.add(r);
    expect(sorter.spilledRuns).toBe(49);
    const out: EventRecord[] = [];
    for await (const r of sorter.finish()) out.push(r);
    expect(jsonl(out)).toBe(jsonl(input.slice().sort(compareRecords)));
    expect(leftovers()).toEqual([]);
  });
});

describe('temporary files', () => {
  it('a private directory under tmpDir, created at the first spill and removed after the iteration', async () => {
    const sorter = createEventSorter({ tmpDir: tmp, maxInMemory: 4 });
    for (const r of synthetic(4, 1)) sorter.add(r);
    expect(sorter.tempDir).toBeNull();
    for (const r of synthetic(9, 2)) if (!sorter.add(r)) await sorter.drained();
    const dir = sorter.tempDir!;
    expect(path.dirname(dir)).toBe(tmp);
    expect(path.basename(dir)).toMatch(/^smbtrail-sort-/);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(dir)).toHaveLength(3); // spilled at the 5th, 9th and 13th record
    let n = 0;
    for await (const r of sorter.finish()) { expect(r).toBeDefined(); n++; }
    expect(n).toBe(13);
    expect(fs.existsSync(dir)).toBe(false);
    expect(sorter.tempDir).toBeNull();
  });

  it('removed when the consumer stops early', async () => {
    const sorter = createEventSorter({ tmpDir: tmp, maxInMemory: 4 });
    for (const r of synthetic(40, 3)) if (!sorter.add(r)) await sorter.drained();
    const dir = sorter.tempDir!;
    let n = 0;
    for await (const _ of sorter.finish()) if (++n === 5) break;
    expect(fs.existsSync(dir)).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('cleanup() removes them when finish() is never iterated; twice is harmless', async () => {
    const sorter = createEventSorter({ tmpDir: tmp, maxInMemory: 4 });
    for (const r of synthetic(40, 3)) sorter.add(r);
    await sorter.drained();
    const dir = sorter.tempDir!;
    expect(fs.existsSync(dir)).toBe(true);
    await sorter.cleanup();
    await sorter.cleanup();
    expect(fs.existsSync(dir)).toBe(false);
    expect(leftovers()).toEqual([]);
    expect(() => sorter.finish()).toThrow(/after cleanup/);
    expect(() => sorter.add(rec(1, 0, 'a', 1, 0))).toThrow(/after cleanup/);
  });

  it('cleanup() while spills are still queued waits for them and leaves nothing', async () => {
    const sorter = createEventSorter({ tmpDir: tmp, maxInMemory: 10 });
    for (const r of synthetic(200, 3)) sorter.add(r);
    expect(sorter.spilledRuns).toBe(19);
    await sorter.cleanup();
    expect(sorter.tempDir).toBeNull();
    expect(leftovers()).toEqual([]);
  });

  it('defaults to os.tmpdir()', async () => {
    const sorter = createEventSorter({ maxInMemory: 1 });
    sorter.add(rec(1, 0, 'a', 1, 0));
    sorter.add(rec(0, 0, 'a', 2, 0));
    await sorter.drained();
    expect(path.dirname(sorter.tempDir!)).toBe(os.tmpdir());
    await sorter.cleanup();
  });
});

describe('misuse', () => {
  it('add() after finish(), finish() twice, non-finite times, bad options', async () => {
    const sorter = createEventSorter({ tmpDir: tmp });
    expect(() => sorter.add({ ...rec(1, 0, 'a', 1, 0), sec: NaN })).toThrow(/finite/);
    expect(() => sorter.add({ ...rec(1, 0, 'a', 1, 0), ns: Infinity })).toThrow(/finite/);
    sorter.finish();
    expect(() => sorter.finish()).toThrow(/twice/);
    expect(() => sorter.add(rec(1, 0, 'a', 1, 0))).toThrow(/after finish/);
    expect(() => createEventSorter({ maxInMemory: 0 })).toThrow(RangeError);
    expect(() => createEventSorter({ maxInMemory: 1.5 })).toThrow(/maxInMemory/);
    expect(() => createEventSorter({ maxFanIn: 1 })).toThrow(/maxFanIn/);
    expect(() => createEventSorter({ chunkBytes: 0 })).toThrow(/chunkBytes/);
  });
});
