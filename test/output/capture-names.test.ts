/**
 * The table names a capture by the shortest end of its path that no other capture of the batch
 * ends with. Found by a new-user trial: hostA/cap.pcap and hostB/cap.pcap were both shown as
 * cap.pcap, and the rows of one could not be told from the other's.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureNames } from '../../src/output/table';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');

describe('captureNames', () => {
  it('the base name while it is unique, more of the path where it is not', () => {
    expect(Object.fromEntries(captureNames(['cases/a/cap.pcap', 'cases/b/cap.pcap', 'cases/b/other.pcap']))).toEqual({
      'cases/a/cap.pcap': 'a/cap.pcap', 'cases/b/cap.pcap': 'b/cap.pcap', 'cases/b/other.pcap': 'other.pcap',
    });
  });
  it('deeper where the parents are alike too; a label that is the end of another stays whole', () => {
    expect(Object.fromEntries(captureNames(['x/s1/day/c.pcap', 'y/s1/day/c.pcap', 'c.pcap']))).toEqual({
      'x/s1/day/c.pcap': 'x/s1/day/c.pcap', 'y/s1/day/c.pcap': 'y/s1/day/c.pcap', 'c.pcap': 'c.pcap',
    });
    expect(Object.fromEntries(captureNames(['/abs/cap.pcap']))).toEqual({ '/abs/cap.pcap': 'cap.pcap' });
  });
  it('a backslash is part of a name, not a separator', () => {
    expect(Object.fromEntries(captureNames(['d/a\\b.pcap', 'e/b.pcap']))).toEqual({ 'd/a\\b.pcap': 'a\\b.pcap', 'e/b.pcap': 'b.pcap' });
  });
  it('10,000 captures of one name stay fast (no quadratic copying)', () => {
    const labels = Array.from({ length: 10_000 }, (_, i) => `sensors/s${i}/ring.pcap`);
    const t = Date.now();
    const names = captureNames(labels);
    expect(Date.now() - t).toBeLessThan(2000);
    expect(new Set(names.values()).size).toBe(10_000);
    expect(names.get('sensors/s7/ring.pcap')).toBe('s7/ring.pcap');
  });
});

describe('the table of a batch with two captures of one name', () => {
  let tmp = '';
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-names-'));
    for (const [dir, src] of [['hostA', '05-admin-share-exe-copy.pcap'], ['hostB', '06-impacket-psexec.pcap']]) {
      fs.mkdirSync(path.join(tmp, dir));
      fs.copyFileSync(path.join(ROOT, 'captures', src), path.join(tmp, dir, 'cap.pcap'));
    }
  });
  afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

  it('each row and each story step names its own file (hostA/cap.pcap, hostB/cap.pcap)', () => {
    for (const args of [['-j', '1'], ['-j', '2'], ['--stories']]) {
      const r = spawnSync(process.execPath, [CLI, 'scan', tmp, '-q', '--color=false', ...args], { encoding: 'utf8', env: { ...process.env, COLUMNS: '400' } });
      expect(r.status).toBe(0);
      const rows = r.stdout.split('\n').filter((l) => /#\d+ /.test(l));
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) expect(row).toMatch(/#\d+ host[AB]\/cap\.pcap/);
      if (args[0] !== '--stories') {
        expect(rows.some((l) => l.includes('hostA/cap.pcap'))).toBe(true);
        expect(rows.some((l) => l.includes('hostB/cap.pcap'))).toBe(true);
      }
    }
  });
});
