/**
 * The batch path for CSV and JSON lines: workers write sorted runs, the main thread merges them.
 * Whatever the spill size and the number of workers, the output is the same bytes, in the
 * documented order, and no temporary file is left behind.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const CAPTURES = path.join(ROOT, 'captures');

let tmp = '';
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-jobs-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 28, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('sorted runs written by the workers', () => {
  it('same bytes for --jobs 1 and 2, with one record or 5,000 per run, and the temp dir is removed', () => {
    const t = path.join(tmp, 'sort');
    fs.mkdirSync(t);
    const env = { TMPDIR: t };
    const ref = run([CAPTURES, '-f', 'jsonl', '-q', '-j', '1'], env);
    expect(ref.code).toBe(0);
    const lines = ref.out.trim().split('\n').map((l) => JSON.parse(l) as { ts: string; capture: string; frame: number });
    expect(lines.length).toBeGreaterThan(1000);
    // ordered by time (same precision within a capture), then capture, then frame
    for (let i = 1; i < lines.length; i++) {
      const a = lines[i - 1], b = lines[i];
      if (a.ts.length === b.ts.length && a.ts === b.ts) expect(a.capture < b.capture || (a.capture === b.capture && a.frame <= b.frame)).toBe(true);
    }
    for (const [jobs, records] of [['2', '1'], ['1', '7'], ['2', '5000']]) {
      const r = run([CAPTURES, '-f', 'jsonl', '-q', '-j', jobs], { ...env, SMBTRAIL_SORT_RECORDS: records });
      expect(r.code).toBe(0);
      expect(r.out).toBe(ref.out);
    }
    const csv1 = run([CAPTURES, '-f', 'csv', '-q', '-j', '1'], { ...env, SMBTRAIL_SORT_RECORDS: '3' }).out;
    expect(run([CAPTURES, '-f', 'csv', '-q', '-j', '2'], env).out).toBe(csv1);
    expect(csv1.split('\n')[0]).toMatch(/^ts,capture,frame/);
    expect(fs.readdirSync(t)).toEqual([]);
  });

  it('one job over more than 16 MB (scanned in a worker, not in-thread) gives the same bytes as two', () => {
    const dir = path.join(tmp, 'big');
    for (const k of ['a', 'b', 'c', 'd', 'e']) fs.cpSync(CAPTURES, path.join(dir, k), { recursive: true, dereference: true });
    const one = run([dir, '-f', 'jsonl', '-q', '-j', '1'], { SMBTRAIL_SORT_RECORDS: '50' });
    const two = run([dir, '-f', 'jsonl', '-q', '-j', '2']);
    expect(one.code).toBe(0);
    expect(one.out.length).toBeGreaterThan(1000);
    expect(two.out).toBe(one.out);
  });

  it("a file's runs go to the final merge as they are while they fit its share of the fan-in (no second pass in the worker)", () => {
    const one = path.join(CAPTURES, '10-many-small-files.pcap');
    const out = path.join(tmp, 'share.jsonl');
    const ref = run([one, '-f', 'jsonl', '-q']);
    const r = run([one, '-f', 'jsonl', '-q', '-o', out], { SMBTRAIL_SORT_RECORDS: '20', SMBTRAIL_DEBUG: '1' });
    expect(r.code).toBe(0);
    const runs = Number(/final merge of (\d+) runs/.exec(r.err)?.[1]);
    // ~4,000 events in runs of 20: more than the 32 a file kept when it was one of many
    expect(runs).toBeGreaterThan(32);
    expect(runs).toBeLessThanOrEqual(256);
    expect(fs.readFileSync(out, 'utf8')).toBe(ref.out);
    // as one of 13 files its share is 32: beyond, its worker merges them into one run first
    const all = run([CAPTURES, '-f', 'jsonl', '-q', '-o', out], { SMBTRAIL_SORT_RECORDS: '20', SMBTRAIL_DEBUG: '1' });
    expect(Number(/final merge of (\d+) runs/.exec(all.err)?.[1])).toBeLessThanOrEqual(13 * 32 + 1);
    expect(fs.readFileSync(out, 'utf8')).toBe(run([CAPTURES, '-f', 'jsonl', '-q']).out);
  });

  it('a low open-file limit (ulimit -n 256, as on macOS) narrows the merges instead of failing with EMFILE (found in review)', () => {
    const dir = path.join(tmp, 'eight');
    fs.mkdirSync(dir);
    for (let i = 0; i < 8; i++) fs.linkSync(path.join(CAPTURES, '10-many-small-files.pcap'), path.join(dir, `copy-${i}.pcap`));
    const ref = run([dir, '-f', 'jsonl', '-q']);
    expect(ref.code).toBe(0);
    expect(ref.out.split('\n').length).toBeGreaterThan(30_000);
    const limited = (jobs: string, out: string) => spawnSync('bash', ['-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, CLI, dir, '-f', 'jsonl', '-q', '-j', jobs, '-o', out],
      { encoding: 'utf8', cwd: ROOT, env: { ...process.env, SMBTRAIL_SORT_RECORDS: '60', SMBTRAIL_SPLIT_MIN_RECORDS: '1' } });
    for (const jobs of ['1', '2']) {
      const out = path.join(tmp, `eight-${jobs}.jsonl`);
      const r = limited(jobs, out);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(fs.readFileSync(out, 'utf8')).toBe(ref.out);
    }
  });
});
