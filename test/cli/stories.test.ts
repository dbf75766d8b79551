/**
 * Lateral movement on the command line: rpc events, --stories, --rules-config, on the lab
 * captures through the compiled CLI (worker threads, sorted runs, the real output path).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const cap = (n: string): string => path.join(ROOT, 'captures', n);

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const lines = (s: string): Record<string, unknown>[] => s.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

let tmp = '';
beforeAll(() => {
  expect(fs.existsSync(CLI), 'dist/cli/main.js is built by `npm test` (tsc) first').toBe(true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-stories-'));
});
afterAll(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

describe('--stories', () => {
  it('prints only the stories, first the PsExec one, with the same result for --jobs 1 and 2', () => {
    const files = [cap('07-psexec-footprint.pcap'), cap('11-benign-baseline.pcap')];
    const a = run([...files, '--stories', '-f', 'jsonl', '-q', '--jobs', '1']);
    const b = run([...files, '--stories', '-f', 'jsonl', '-q', '--jobs', '2']);
    expect(a.code).toBe(0);
    expect(b.out).toBe(a.out);
    const got = lines(a.out);
    expect(got.map((e) => e.action)).toEqual(['story']);
    expect(got[0].rules).toEqual(expect.arrayContaining(['STORY-PSEXEC']));
    expect(String(got[0].summary)).toContain('PSEXESVC');
  });

  it('the benign baseline alone has no story; the table says so in one line', () => {
    const r = run([cap('11-benign-baseline.pcap'), '--stories', '-q']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe('no SMB events');
  });

  it('stories sit in the full timeline right after their first step, in CSV too', () => {
    const r = run([cap('06-impacket-psexec.pcap'), '-f', 'csv', '-q']);
    const rows = r.out.trim().split('\n');
    const story = rows.findIndex((l) => l.includes(',story,'));
    expect(story).toBeGreaterThan(1);
    expect(rows[story - 1]).toMatch(/,41,.*,create,/);
    expect(rows[story]).toContain('STORY-IMPACKET-PSEXEC');
  });
});

describe('rule hits kept on disk for the stories', () => {
  it.each([['on the main thread', '2000'], ['in the stories thread', '0']])('a step file that cannot be read back costs the stories, not the timeline: one line, exit 1, -o written (found in review), stories built %s', (_where, inThread) => {
    // a preload that fails every read of a step file (EIO), as a disk error or a temp cleaner would
    const preload = path.join(tmp, 'fail-steps.js');
    fs.writeFileSync(preload, `const fs = require('fs'); const read = fs.readSync;
fs.readSync = function (fd, ...rest) {
  let p = ''; try { p = fs.readlinkSync('/proc/self/fd/' + fd); } catch {}
  if (p.endsWith('.steps')) { const e = new Error('EIO: i/o error, read'); e.code = 'EIO'; throw e; }
  return read.call(this, fd, ...rest);
};`);
    const input = cap('08-smbexec-services.pcap');
    const good = run([input, '-f', 'csv', '-q', '--jobs', '1']);
    // the stories thread builds the same stories
    expect(spawnSync(process.execPath, [CLI, input, '-f', 'csv', '-q'], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, SMBTRAIL_STORIES_IN_THREAD: inThread } }).stdout).toBe(good.out);
    expect(good.code).toBe(0);
    expect(good.out).toContain(',story,');
    const out = path.join(tmp, 'timeline.csv');
    fs.writeFileSync(out, 'yesterday\n');
    const r = spawnSync(process.execPath, ['-r', preload, CLI, input, '-f', 'csv', '-q', '--jobs', '1', '-o', out], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, SMBTRAIL_STORIES_IN_THREAD: inThread } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^smbtrail: cannot build the stories: .*\.steps: EIO/m);
    expect(r.stderr).not.toContain('internal error');
    const rows = fs.readFileSync(out, 'utf8');
    expect(rows).toBe(good.out.split('\n').filter((l) => !l.includes(',story,')).join('\n'));
  });
});

describe('rpc events', () => {
  it('smbexec: the CreateServiceW call with its command line as JSON', () => {
    const r = run([cap('08-smbexec-services.pcap'), '--action', 'rpc', '-f', 'jsonl', '-q']);
    const create = lines(r.out).filter((e) => e.rpc_operation === 'CreateServiceW');
    expect(create).toHaveLength(2);
    const args = create[0].rpc_args as Record<string, string>;
    expect(args.binary_path).toMatch(/^%COMSPEC% \/Q \/c echo cd/);
    expect(create[0]).toMatchObject({ rpc_interface: 'svcctl', path: 'svcctl', status: 'FAULT nca_s_op_rng_error', severity: 'high' });
  });
});

describe('--rules-config', () => {
  it('an allow-list by client subnet removes the rule hits and the story', () => {
    const cfg = path.join(tmp, 'allow.yaml');
    fs.writeFileSync(cfg, 'allow:\n  - client: 198.18.10.0/24\n    note: the admin workstation subnet\n');
    const r = run([cap('07-psexec-footprint.pcap'), '--rules-config', cfg, '-f', 'jsonl', '-q']);
    expect(r.code).toBe(0);
    const evs = lines(r.out);
    expect(evs.length).toBeGreaterThan(0);
    expect(evs.filter((e) => (e.rules as string[]).length > 0)).toEqual([]);
    expect(evs.filter((e) => e.action === 'story')).toEqual([]);
    // the summary says that hits were removed, so an allow-list never hides evidence silently
    const loud = run([cap('07-psexec-footprint.pcap'), '--rules-config', cfg, '-f', 'jsonl']);
    expect(loud.err).toMatch(/rules: none \(\d+ more removed by --rules-config allow-lists\)/);
  });

  it('an entry that covers only some steps of a story does not hide it; one that covers all does (found by a new-user trial)', () => {
    const story = (yaml: string): Record<string, unknown>[] => {
      const cfg = path.join(tmp, `partial-${yaml.length}.yaml`);
      fs.writeFileSync(cfg, yaml);
      const r = run([cap('05-admin-share-exe-copy.pcap'), '--rules-config', cfg, '--stories', '-f', 'jsonl', '-q']);
      expect(r.code).toBe(0);
      return lines(r.out);
    };
    const plain = story('allow: []\n');
    expect(plain).toHaveLength(1);
    // ADMIN$ is the share the story is told from, but the executable was also copied to C$
    const partial = story("allow:\n  - user: 'LAB\\alice'\n    share: 'ADMIN$'\n");
    expect(partial).toHaveLength(1);
    expect(partial[0].summary).toBe(plain[0].summary);
    const whole = story("allow:\n  - user: 'LAB\\alice'\n");
    expect(whole).toEqual([]);
  });

  it('a mistake is one line naming the file and the key, exit 2', () => {
    const cfg = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(cfg, 'allow:\n  - client: 10.0.0.0/33\n');
    const r = run([cap('07-psexec-footprint.pcap'), '--rules-config', cfg]);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toMatch(/^smbtrail: rules config .*bad\.yaml: allow\[0\]\.client: /);
    expect(r.out).toBe('');
    const unknown = path.join(tmp, 'unknown.json');
    fs.writeFileSync(unknown, '{"rules": {"NO-SUCH-RULE": {"enabled": false}}}');
    const u = run([cap('07-psexec-footprint.pcap'), '--rules-config', unknown]);
    expect(u.code).toBe(2);
    expect(u.err).toContain('NO-SUCH-RULE');
    const missing = run([cap('07-psexec-footprint.pcap'), '--rules-config', path.join(tmp, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.err.split('\n').filter(Boolean).length).toBeLessThanOrEqual(2);
  });
});

describe('stderr is safe for terminals too', () => {
  it('a file name with escape sequences is named escaped in its error line; so is a hostile rules-config key', () => {
    const evil = path.join(tmp, 'evil\x1b[31mred\x07.pcap');
    fs.writeFileSync(evil, 'not a capture at all');
    const r = run([evil, '-q']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('\\x1b[31mred\\x07.pcap');
    expect(r.err).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    const cfg = path.join(tmp, 'evil.yaml');
    fs.writeFileSync(cfg, 'rules:\n  "\\e]0;pwned\\a": { enabled: false }\n');
    const c = run([cap('07-psexec-footprint.pcap'), '--rules-config', cfg]);
    expect(c.code).toBe(2);
    expect(c.err).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
  });
});

describe('a misspelt option', () => {
  it('is named, instead of swallowing the capture as its value', () => {
    const r = run(['--stores', cap('06-impacket-psexec.pcap')]);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe('smbtrail: unknown option --stores');
    expect(r.out).toBe('');
    // known options, --no-* negations and --opt=value forms still work
    expect(run([cap('06-impacket-psexec.pcap'), '--no-color', '--min-severity=high', '-q', '-f', 'jsonl']).code).toBe(0);
  });
});

describe('overlapping captures', () => {
  it('the same traffic captured twice (two sensors) tells one story with the steps once', () => {
    const copy = path.join(tmp, 'sensor-b.pcap');
    fs.copyFileSync(cap('07-psexec-footprint.pcap'), copy);
    const one = lines(run([cap('07-psexec-footprint.pcap'), '--stories', '-f', 'jsonl', '-q']).out);
    const two = lines(run([cap('07-psexec-footprint.pcap'), copy, '--stories', '-f', 'jsonl', '-q']).out);
    expect(two).toHaveLength(1);
    expect(two[0].summary).toBe(one[0].summary);
    expect((two[0].refs as string[]).length).toBe((one[0].refs as string[]).length);
  });
});
