/**
 * The memory governor (src/scan/lanes.ts) through the built CLI: what --jobs 1 gives, whatever is stopped.
 * SMBTRAIL_GOVERNOR_MIB=1 makes every pair of files in progress collide.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const CAPTURES = path.join(ROOT, 'captures');

function run(args: string[], env: Record<string, string> = {}, timeout = 120_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 28, env: { ...process.env, ...env }, timeout });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}
const GOV = { SMBTRAIL_GOVERNOR_MIB: '1' };

let tmp = '';
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-gov-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('governor: nothing readable, existing -o file', () => {
  it('leaves yesterday\'s -o file alone like --jobs 1 when every input fails (stopped files must not count as read)', () => {
    // four unreadable inputs: none reads a packet, but two are "in progress" at once (worker start-up)
    const bad = [1, 2, 3, 4].map((k) => {
      const f = path.join(tmp, `notes${k}.txt`);
      fs.writeFileSync(f, `not a capture ${k}\n`);
      return f;
    });
    const prev = path.join(tmp, 'kept.csv');
    for (const jobs of ['1', '2']) {
      fs.writeFileSync(prev, 'previous timeline\n');
      const r = run([...bad, '-f', 'csv', '-o', prev, '-j', jobs], { ...GOV, SMBTRAIL_DEBUG: '1' });
      expect(r.code).toBe(1);
      if (jobs === '2') expect(r.err).toMatch(/were stopped/); // the governor did stop one
      expect({ jobs, content: fs.readFileSync(prev, 'utf8') }).toEqual({ jobs, content: 'previous timeline\n' });
    }
    // and no -o file is made when none existed
    const fresh = path.join(tmp, 'never-made.csv');
    expect(run([...bad, '-f', 'csv', '-o', fresh, '-j', '2'], GOV).code).toBe(1);
    expect(fs.existsSync(fresh)).toBe(false);
  });
});

describe('governor: stress', () => {
  it('mixed good and broken files, --jobs 2..4, same output, per-file lines, counts and exit status as --jobs 1, no hang', () => {
    const dir = path.join(tmp, 'mixed');
    fs.mkdirSync(dir);
    const names = fs.readdirSync(CAPTURES).filter((n) => /\.pcap(ng)?$/.test(n));
    for (const k of [1, 2]) for (const n of names) fs.copyFileSync(path.join(CAPTURES, n), path.join(dir, `c${k}_${n}`));
    // a truncated pcap (fails after its header) and garbage claiming pcapng
    const head = Buffer.from(fs.readFileSync(path.join(CAPTURES, '07-psexec-footprint.pcap')).subarray(0, 24));
    fs.writeFileSync(path.join(dir, 'b1.pcap'), Buffer.concat([head, Buffer.from([1, 2, 3])]));
    fs.writeFileSync(path.join(dir, 'd1.pcap'), Buffer.from('\x0a\x0d\x0d\x0a garbage that claims to be pcapng', 'latin1'));
    const perFile = (s: string): string[] => s.split('\n').filter((l) => /^smbtrail: /.test(l) && !/debug|capture\(s\) read/.test(l)).map((l) => l.replace(/, [\d.]+ s$/, '')).sort();
    const summary = (s: string): string => s.split('\n').filter((l) => /capture\(s\) read|^\s+(packets |events |stories:|rules:|flags:|anomalies:)/.test(l)).join('\n');
    for (const f of ['jsonl', 'csv']) {
      const one = run([dir, '-f', f, '--per-file', '-j', '1']);
      expect(one.code).toBe(1);
      for (const j of ['2', '3', '4']) {
        const r = run([dir, '-f', f, '--per-file', '-j', j], GOV, 60_000);
        expect(r.signal).toBeNull();
        expect(r.code).toBe(1);
        expect(r.out).toBe(one.out);
        expect(r.err).toMatch(/were stopped/);
        expect(perFile(r.err)).toEqual(perFile(one.err));
        expect(summary(r.err)).toBe(summary(one.err));
      }
    }
  });
});

describe('governor: Ctrl-C', () => {
  it('removes the sort directory when interrupted while files are being stopped and rescanned', async () => {
    const { spawn } = await import('child_process');
    for (let attempt = 0; attempt < 3; attempt++) {
      const tmpdir = fs.mkdtempSync(path.join(tmp, 'sigint-'));
      const child = spawn(process.execPath, [CLI, CAPTURES, CAPTURES, '-f', 'jsonl', '-q', '-j', String(2 + attempt), '-o', path.join(tmp, 'sigint.jsonl')], {
        env: { ...process.env, ...GOV, TMPDIR: tmpdir, SMBTRAIL_SORT_RECORDS: '10' }, stdio: 'ignore',
      });
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
      const runs = (): number => fs.readdirSync(tmpdir).flatMap((d) => { try { return fs.readdirSync(path.join(tmpdir, d)); } catch { return []; } }).length;
      for (let i = 0; i < 400 && runs() < 20; i++) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGINT');
      expect(await exited).toBe('SIGINT');
      expect(fs.readdirSync(tmpdir)).toEqual([]);
    }
  });
});

describe('governor: the table', () => {
  it('is drawn from runs like CSV and JSON lines, so it is governed too: with SMBTRAIL_GOVERNOR_MIB=1 and 2-3 jobs it equals --jobs 1', () => {
    const one = run([CAPTURES, '--no-color', '--jobs', '1']);
    expect(one.code).toBe(0);
    for (const j of ['2', '3']) {
      const r = run([CAPTURES, '--no-color', '--jobs', j], GOV);
      expect(r.code).toBe(0);
      expect(r.out).toBe(one.out);
      expect(r.err).toMatch(/were stopped/);
    }
  });
});
