/**
 * The command line as a user meets it: exit statuses, one-line errors, formats, filters.
 * Runs the compiled CLI (npm test compiles first) on the lab captures.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_FIELDS } from '../../src/events/event';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const CAPTURES = path.join(ROOT, 'captures');

function run(args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: opts.cwd ?? ROOT, maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const noStack = (s: string): boolean => !/^\s+at .+:\d+:\d+\)?$/m.test(s);

/** the lab capture with the most SMB2 events of interest (ADMIN$ copy) or any capture */
function labCapture(pattern: RegExp): string {
  const names = fs.existsSync(CAPTURES) ? fs.readdirSync(CAPTURES).filter((n) => /\.(pcap|pcapng)(\.gz)?$/.test(n)) : [];
  const hit = names.find((n) => pattern.test(n)) ?? names[0];
  if (!hit) throw new Error('no lab captures in captures/');
  return path.join(CAPTURES, hit);
}

let tmp = '';
beforeAll(() => {
  expect(fs.existsSync(CLI), 'dist/cli/main.js is built by `npm test` (tsc) first').toBe(true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-cli-'));
});
afterAll(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

describe('usage', () => {
  it('--help teaches the command, formats and exit statuses', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    for (const s of ['--format', '--min-severity', '--action', '--output', 'Exit status']) expect(r.out).toContain(s);
  });
  it('no input is a usage error (exit 2, one line, a hint)', () => {
    const r = run([]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/smbtrail: .*\n/);
    expect(noStack(r.err)).toBe(true);
  });
  it('an on/off switch takes true or false as its value', () => {
    const cap = labCapture(/./);
    expect(run([cap, '--color=false', '-q', '-f', 'csv']).code).toBe(0);
    expect(run([cap, '--stitch=true', '-q', '-f', 'csv']).code).toBe(0);
  });
  it('an unknown option or action is a usage error', () => {
    expect(run(['--frobnicate', 'x.pcap']).code).toBe(2);
    const r = run([labCapture(/./), '--action', 'explode']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown action "explode"');
  });
  it('an option without its value is a usage error, not a silent default (-o with no file printed to stdout)', () => {
    const cap = labCapture(/./);
    for (const [args, says] of [
      [['-o'], '-o needs a value'], [['-q', '-o'], '-o needs a value'], [['-o', ''], '-o needs a file name'],
      [['-f'], '-f needs a value'], [['--action'], '--action needs a value'], [['--min-severity'], '--min-severity needs a value'],
      [['--jobs'], '--jobs needs a value'], [['--rules-config'], '--rules-config needs a value'],
      [['-f', 'xml'], '--format must be one of table, csv, jsonl (not "xml")'],
      [['-j', '1e9'], '--jobs must be at most'], [['--rules-config', '/dev/zero'], 'rules config /dev/zero: larger than 1 MB: not a rules file'],
      // on/off switches with a value that is neither (found by a new-user trial: taken as on)
      [['--color=maybe'], '--color is on or off'], [['--stitch=2'], '--stitch is on or off'],
    ] as const) {
      const r = run([cap, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toContain(`smbtrail: ${says}`);
    }
  });
  it('an option given twice takes its last value', () => {
    const cap = labCapture(/./);
    const jsonl = run([cap, '-q', '-f', 'jsonl']).out;
    expect(run([cap, '-q', '-f', 'csv', '-f', 'jsonl']).out).toBe(jsonl);
    expect(run([cap, '-q', '-f', 'jsonl', '-j', '1', '-j', '2']).out).toBe(jsonl);
    const out = path.join(tmp, 'second.jsonl');
    expect(run([cap, '-q', '-f', 'jsonl', '-o', path.join(tmp, 'first.jsonl'), '-o', out]).code).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe(jsonl);
    expect(fs.existsSync(path.join(tmp, 'first.jsonl'))).toBe(false);
  });
  it('a word that looks like options but is not (a file named -weird.pcap) is named, with the way out', () => {
    const r = run(['-weird-name.pcap']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('smbtrail: unknown option -weird-name.pcap (a file whose name starts with -: put -- before it, as in smbtrail -- -weird-name.pcap)');
    // grouped one-letter options still work
    expect(run([labCapture(/./), '-qf', 'jsonl']).code).toBe(0);
  });
});

describe('unreadable inputs', () => {
  it('a missing file: exit 1, one clear line, others still processed', () => {
    const r = run([path.join(tmp, 'nope.pcap'), labCapture(/./), '-f', 'jsonl']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope\.pcap: no such file or directory/);
    expect(r.out.trim().split('\n').length).toBeGreaterThan(0);
    expect(noStack(r.err)).toBe(true);
  });
  it('a file that is not a capture: exit 1 naming why, no stack trace', () => {
    const junk = path.join(tmp, 'notes.pcap');
    fs.writeFileSync(junk, '<html>this is not a capture</html>');
    const r = run([junk]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/notes\.pcap: .*(not a pcap|pcapng)/i);
    expect(noStack(r.err)).toBe(true);
  });
  it('a truncated capture is read up to the cut and the cut is counted (exit 0)', () => {
    const src = fs.readFileSync(labCapture(/admin|smb2/i));
    const cut = path.join(tmp, 'cut.pcap');
    fs.writeFileSync(cut, src.subarray(0, Math.floor(src.length * 0.6) + 3));
    const r = run([cut, '-f', 'jsonl']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/truncated/);
  });
});

describe('evidence is never overwritten or double counted', () => {
  /** the scan is refused with exit 2 and `cap` keeps its bytes */
  function expectRefused(args: string[], cap: string): void {
    const before = fs.readFileSync(cap);
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/refusing to write the output over the input capture/);
    expect(fs.readFileSync(cap).equals(before)).toBe(true);
  }
  it('refuses -o naming an input capture (exit 2) and leaves the capture intact', () => {
    const cap = path.join(tmp, 'victim.pcap');
    fs.copyFileSync(labCapture(/admin/i), cap);
    expectRefused([cap, '-f', 'csv', '-o', cap], cap);
  });
  it('refuses -o naming a hard link or a symlink to a capture inside a scanned directory', () => {
    const dir = path.join(tmp, 'linked');
    fs.mkdirSync(dir);
    const cap = path.join(dir, 'evidence.pcap');
    fs.copyFileSync(labCapture(/admin/i), cap);
    const hard = path.join(tmp, 'hard-link.pcap');
    const soft = path.join(tmp, 'soft-link.pcap');
    fs.linkSync(cap, hard);
    fs.symlinkSync(cap, soft);
    for (const out of [hard, soft]) expectRefused([dir, '-f', 'jsonl', '-o', out], cap);
  });
  it('reads captures whose names are not valid UTF-8 (in a directory and by name), shown with \\xNN', () => {
    const dir = Buffer.from(path.join(tmp, 'bytes'));
    const sub = Buffer.concat([dir, Buffer.from('/sub\xfe', 'latin1')]);
    fs.mkdirSync(dir);
    fs.mkdirSync(sub);
    fs.copyFileSync(labCapture(/admin/i), Buffer.concat([dir, Buffer.from('/evil\xff.pcap', 'latin1')]));
    fs.copyFileSync(labCapture(/admin/i), Buffer.concat([sub, Buffer.from('/x\x9b.pcap', 'latin1')]));
    const j1 = run([dir.toString(), '-f', 'csv', '--jobs', '1', '--per-file']);
    const j2 = run([dir.toString(), '-f', 'csv', '--jobs', '2']);
    expect(j1.code).toBe(0);
    expect(j1.err).toMatch(/evil\\xff\.pcap: \d+ packets/);
    expect(j1.err).toMatch(/sub\\xfe\/x\\x9b\.pcap: \d+ packets/);
    expect(j1.err).toMatch(/2 capture\(s\) read/);
    expect(j2.out).toBe(j1.out);
    // by name: the command line reaches Node as UTF-8 with U+FFFD; the one entry that reads so is it
    for (const name of ['evil\\xff.pcap', 'sub\\xfe/x\\x9b.pcap']) {
      const byName = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" -f jsonl -q -- "$(printf '%s/${name}' "${dir.toString()}")"`], { encoding: 'utf8' });
      expect(byName.status, name).toBe(0);
      expect(byName.stdout.trim().split('\n').length).toBeGreaterThan(5);
    }
    // a file literally named with the four characters \xff reads like the byte: it gets its own label
    fs.copyFileSync(labCapture(/admin/i), path.join(dir.toString(), 'evil\\xff.pcap'));
    const both = run([dir.toString(), '-f', 'csv', '--per-file']);
    expect(both.err).toMatch(/evil\\xff\.pcap: \d+ packets/);
    expect(both.err).toMatch(/evil\\xff\.pcap \[2\]: \d+ packets/);
    // and a third file literally named like that number takes its own name: the second becomes [3]
    fs.copyFileSync(labCapture(/admin/i), path.join(dir.toString(), 'evil\\xff.pcap [2]'));
    const three = run([dir.toString(), '-f', 'jsonl', '-q']);
    const caps = new Set(three.out.trim().split('\n').map((l) => (JSON.parse(l) as { capture: string }).capture));
    // the byte, the four characters, the one named with the number, and sub\xfe/x\x9b.pcap
    expect(caps.size).toBe(4);
    expect([...caps].filter((c) => c.endsWith('evil\\xff.pcap [3]'))).toHaveLength(1);
  });

  it('--rules-config from a pipe (process substitution) is read like a file', () => {
    const cfg = path.join(tmp, 'pipe-rules.yaml');
    fs.writeFileSync(cfg, 'rules:\n  SMB-ADMIN-SHARE-WRITE: { severity: low }\n');
    const cap = labCapture(/admin/i);
    const viaPipe = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" "${cap}" -q -f jsonl --rules-config <(cat "${cfg}")`], { encoding: 'utf8' });
    expect(viaPipe.status).toBe(0);
    expect(viaPipe.stdout).toBe(run([cap, '-q', '-f', 'jsonl', '--rules-config', cfg]).out);
  });

  it('FIFOs, sockets and devices: skipped inside a directory, refused by name (never opened: a FIFO would block)', () => {
    const dir = path.join(tmp, 'special');
    fs.mkdirSync(dir);
    fs.copyFileSync(labCapture(/admin/i), path.join(dir, 'real.pcap'));
    spawnSync('mkfifo', [path.join(dir, 'pipe.pcap')]);
    fs.symlinkSync('/dev/null', path.join(dir, 'null.pcap'));
    const r = run([dir, '-f', 'jsonl']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/1 capture\(s\) read, 2 non-capture file\(s\) skipped/);
    const fifo = spawnSync(process.execPath, [CLI, path.join(dir, 'pipe.pcap'), '-q'], { encoding: 'utf8', timeout: 20_000 });
    expect(fifo.status).toBe(1);
    expect(fifo.stderr).toMatch(/pipe\.pcap: not a regular file \(a named pipe\)/);
  });

  it('follows symbolic links inside a directory, walks each directory once, and names a link to nothing', () => {
    const dir = path.join(tmp, 'symlinked');
    const elsewhere = path.join(tmp, 'elsewhere');
    fs.mkdirSync(dir);
    fs.mkdirSync(elsewhere);
    const cap = path.join(elsewhere, 'evidence.pcap');
    fs.copyFileSync(labCapture(/admin/i), cap);
    fs.symlinkSync(cap, path.join(dir, 'linked.pcap'));
    fs.symlinkSync(elsewhere, path.join(dir, 'linked-dir')); // the same capture again: scanned once
    fs.symlinkSync(dir, path.join(dir, 'loop'));
    fs.symlinkSync(path.join(tmp, 'does-not-exist'), path.join(dir, 'dangling.pcap'));
    const r = run([dir, '-f', 'jsonl', '--per-file']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/dangling\.pcap: symbolic link to nothing/);
    expect(r.err).toMatch(/1 capture\(s\) read, 1 could not be read/);
    const direct = run([cap, '-f', 'jsonl', '-q']).out.trim().split('\n');
    const viaLink = r.out.trim().split('\n').map((l) => JSON.parse(l) as { capture: string; frame: number });
    expect(viaLink.length).toBe(direct.length);
    expect(viaLink.length).toBeGreaterThan(5);
    // found first (name order) through the linked directory; the linked file is the same file
    expect(new Set(viaLink.map((e) => e.capture))).toEqual(new Set([path.join(dir, 'linked-dir', 'evidence.pcap')]));
    expect(viaLink.map((e) => e.frame)).toEqual(direct.map((l) => (JSON.parse(l) as { frame: number }).frame));
  });
  it('leaves an existing -o file alone when there is nothing to scan (a mistyped path)', () => {
    const prev = path.join(tmp, 'yesterday.csv');
    fs.writeFileSync(prev, 'previous timeline\n');
    const r = run([path.join(tmp, 'no-such-capture.pcap'), '-f', 'csv', '-o', prev]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no-such-capture\.pcap: no such file or directory/);
    expect(fs.readFileSync(prev, 'utf8')).toBe('previous timeline\n');
  });
  it('leaves an existing -o file alone, and makes none, when no input could be read at all', () => {
    const prev = path.join(tmp, 'kept.csv');
    fs.writeFileSync(prev, 'previous timeline\n');
    const text = path.join(tmp, 'notes.txt');
    fs.writeFileSync(text, 'not a capture\n');
    const r = run([text, '-f', 'csv', '-o', prev, '-j', '2']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/notes\.txt: not a pcap\/pcapng file/);
    expect(fs.readFileSync(prev, 'utf8')).toBe('previous timeline\n');
    const fresh = path.join(tmp, 'never-made.csv');
    expect(run([text, '-f', 'csv', '-o', fresh]).code).toBe(1);
    expect(fs.existsSync(fresh)).toBe(false);
    // one readable capture among them: the file is replaced
    expect(run([text, labCapture(/admin/i), '-f', 'csv', '-o', prev]).code).toBe(1);
    expect(fs.readFileSync(prev, 'utf8')).toMatch(/^ts,capture,frame/);
  });
  it('the summary counts stories among the events found, shown or not', () => {
    const all = run([CAPTURES, '-f', 'jsonl']);
    const total = Number(/events (\d+):/.exec(all.err)?.[1]);
    expect(total).toBeGreaterThan(1000);
    for (const args of [['--min-severity', 'medium'], ['--stories']]) {
      const r = run([CAPTURES, '-f', 'jsonl', ...args]);
      expect(r.err, args.join(' ')).toMatch(new RegExp(`events \\d+ \\(of ${total} found`));
    }
  });
  it('after --, every word is an input, even a file named like an option', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'dashes-'));
    fs.copyFileSync(labCapture(/admin/i), path.join(dir, '-rf.pcap'));
    const expected = run([labCapture(/admin/i), '-f', 'jsonl', '-q']).out;
    const r = run(['-f', 'jsonl', '-q', '--', '-rf.pcap'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.out).toBe(expected.split(labCapture(/admin/i)).join('-rf.pcap'));
    // and `scan` after -- is a file name, not the command
    const named = run(['-q', '--', 'scan'], { cwd: dir });
    expect(named.code).toBe(1);
    expect(named.err).toMatch(/^smbtrail: scan: no such file or directory$/m);
    // nothing at all to scan is a usage error that says so
    const none = run(['-q', '--']);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/no capture file or directory given/);
  });
  it('-o replaces a longer earlier output entirely (emptied while the scan runs), for one job and two', () => {
    const out = path.join(tmp, 'rerun.jsonl');
    const inputs = [labCapture(/admin/i), labCapture(/discovery/i)];
    for (const jobs of ['1', '2']) {
      const expected = run([...inputs, '-f', 'jsonl', '-q', '-j', jobs]).out;
      expect(expected.length).toBeGreaterThan(1000);
      fs.writeFileSync(out, 'x'.repeat(expected.length * 3));
      const r = run([...inputs, '-f', 'jsonl', '-q', '-j', jobs, '-o', out]);
      expect(r.code).toBe(0);
      expect(fs.readFileSync(out, 'utf8')).toBe(expected);
    }
  });
  it('inside a directory, a gzip file that does not hold a capture is skipped like other files', () => {
    const dir = path.join(tmp, 'with-logs');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'app.log.gz'), zlib.gzipSync(Buffer.from('2026-11-22 service started\n'.repeat(50))));
    fs.writeFileSync(path.join(dir, 'capture.gz'), zlib.gzipSync(fs.readFileSync(labCapture(/admin/i))));
    const r = run([dir, '-f', 'jsonl']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/1 capture\(s\) read, 1 non-capture file\(s\) skipped/);
    expect(r.out.trim().split('\n').length).toBeGreaterThan(5);
    // named on the command line, it is still tried and refused in one line
    const named = run([path.join(dir, 'app.log.gz'), '-f', 'jsonl']);
    expect(named.code).toBe(1);
    expect(named.err).toMatch(/app\.log\.gz: gzip content is not a pcap\/pcapng file/);
  });
  it.runIf(fs.existsSync('/dev/full'))('a full disk is one line naming the output, exit 1, not an internal error', () => {
    const r = run([labCapture(/admin/i), '-f', 'jsonl', '-q', '-o', '/dev/full']);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe('smbtrail: cannot write /dev/full: no space left on device (ENOSPC)');
  });
  // -o FILE is written in place (positional writes, two halves with two jobs): a file that
  // cannot grow is reported like a full disk, and what was written is the timeline's beginning
  it.runIf(fs.existsSync('/bin/bash'))('an output file that cannot grow (ulimit -f: EFBIG) is one line naming it, exit 1, the first lines of the timeline', () => {
    const whole = path.join(tmp, 'whole.jsonl');
    expect(run([CAPTURES, '-f', 'jsonl', '-q', '-o', whole]).code).toBe(0);
    const full = fs.readFileSync(whole);
    expect(full.length).toBeGreaterThan(2_000_000);
    // 1,500 KiB: the failure is in the lower half (or the only one); 2,500 KiB: in the upper half
    for (const [j, kib] of [['1', 1500], ['2', 1500], ['2', 2500]] as const) {
      const out = path.join(tmp, `cut-${j}-${kib}.jsonl`);
      // runs of 300 records stay below the limit; the ~3 MB timeline does not
      const r = spawnSync('/bin/bash', ['-c', `ulimit -f ${kib}; exec "$0" "$@"`, process.execPath, CLI, CAPTURES, '-f', 'jsonl', '-q', '-j', j, '-o', out], {
        encoding: 'utf8', cwd: ROOT, env: { ...process.env, SMBTRAIL_SORT_RECORDS: '300', SMBTRAIL_SPLIT_MIN_RECORDS: '1' },
      });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(`smbtrail: cannot write ${out}: file too large (EFBIG)`);
      // cut after the last whole line that reached the file: no partial line, no hole
      const got = fs.readFileSync(out);
      expect(got.length).toBeGreaterThan(kib * 1024 - 16 * 1024);
      expect(got.length).toBeLessThanOrEqual(kib * 1024);
      expect(got[got.length - 1]).toBe(0x0a);
      expect(got.equals(full.subarray(0, got.length))).toBe(true);
    }
  });
  it('scans a file given twice (or also inside a given directory) once', () => {
    const dir = path.join(tmp, 'twice');
    fs.mkdirSync(dir);
    const cap = path.join(dir, 'a.pcap');
    fs.copyFileSync(labCapture(/admin/i), cap);
    const once = run([cap, '-f', 'jsonl', '-q']).out;
    expect(run([cap, cap, dir, '-f', 'jsonl', '-q']).out).toBe(once);
  });
  it('an empty directory or a lone "-" is said, not taken for a clean result', () => {
    const empty = path.join(tmp, 'emptydir');
    fs.mkdirSync(empty);
    const r = run([empty]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no capture files found/);
    const d = run(['-']);
    expect(d.code).toBe(2);
    expect(d.err).toMatch(/standard input is not supported/);
  });
});

describe('directories and formats', () => {
  it('walks a directory, skips non-captures by magic and counts them', () => {
    const dir = path.join(tmp, 'tree', 'sub');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(labCapture(/admin/i), path.join(dir, 'renamed.bin'));
    fs.writeFileSync(path.join(tmp, 'tree', 'readme.txt'), 'hello');
    const r = run([path.join(tmp, 'tree'), '-f', 'jsonl']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/1 capture\(s\) read, 1 non-capture file\(s\) skipped/);
    expect(r.out).toContain('renamed.bin');
  });
  it('a file named like a capture that is not one (empty ring-buffer file, overwritten header) is named with the reason, not skipped', () => {
    const dir = path.join(tmp, 'ring');
    fs.mkdirSync(dir);
    fs.copyFileSync(labCapture(/admin/i), path.join(dir, 'ring_00001.pcapng'));
    fs.writeFileSync(path.join(dir, 'ring_00002.pcapng'), '');
    const wiped = fs.readFileSync(labCapture(/admin/i));
    wiped.fill(0, 0, 64);
    fs.writeFileSync(path.join(dir, 'trace.pcap3'), wiped);
    fs.writeFileSync(path.join(dir, 'notes.txt'), '');
    const r = run([dir, '-f', 'jsonl']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`smbtrail: ${path.join(dir, 'ring_00002.pcapng')}: empty file\n`);
    expect(r.err).toMatch(/trace\.pcap3: not a pcap\/pcapng file \(starts with 00 00 00 00\)/);
    // the capture is read, the empty text file is still only counted
    expect(r.err).toMatch(/1 capture\(s\) read, 2 could not be read, 1 non-capture file\(s\) skipped/);
    expect(r.out.trim().split('\n').length).toBeGreaterThan(5);
  });
  it('JSON lines carry every field in schema order; CSV has the same columns', () => {
    const cap = labCapture(/admin/i);
    const j = run([cap, '-f', 'jsonl', '-q']);
    expect(j.code).toBe(0);
    const lines = j.out.trim().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(Object.keys(JSON.parse(l))).toEqual([...EVENT_FIELDS]);
    const c = run([cap, '-f', 'csv', '-q']);
    expect(c.out.split('\n')[0]).toBe(EVENT_FIELDS.join(','));
    expect(c.out.trim().split('\n').length).toBe(lines.length + 1);
  });
  it('events are ordered by time, capture, frame', () => {
    const r = run([CAPTURES, '-f', 'jsonl', '-q']);
    const evs = r.out.trim().split('\n').map((l) => JSON.parse(l) as { ts: string; capture: string; frame: number });
    for (let i = 1; i < evs.length; i++) {
      const a = evs[i - 1], b = evs[i];
      const ta = Date.parse(a.ts), tb = Date.parse(b.ts);
      expect(ta <= tb).toBe(true);
    }
  });
  it('gzip-compressed captures give the same events as the plain file', () => {
    const cap = labCapture(/admin/i);
    const gz = path.join(tmp, 'same.pcap.gz');
    fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(cap)));
    // the capture's name is the only difference (a story's step refs name it too)
    const strip = (s: string) => s.trim().split('\n').map((l) => {
      const o = JSON.parse(l);
      delete o.capture;
      o.refs = (o.refs as string[]).map((r) => r.slice(r.lastIndexOf('#')));
      return JSON.stringify(o);
    });
    expect(strip(run([gz, '-f', 'jsonl', '-q']).out)).toEqual(strip(run([cap, '-f', 'jsonl', '-q']).out));
  });
  it('-o writes the events to a file; the summary stays on stderr', () => {
    const out = path.join(tmp, 'timeline.csv');
    const r = run([labCapture(/admin/i), '-f', 'csv', '-o', out]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(fs.readFileSync(out, 'utf8').split('\n')[0]).toBe(EVENT_FIELDS.join(','));
    expect(r.err).toMatch(/events \d+/);
  });
  it('--min-severity and --action filter', () => {
    const cap = labCapture(/admin/i);
    const high = run([cap, '-f', 'jsonl', '-q', '--min-severity', 'high']).out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(high.length).toBeGreaterThan(0);
    expect(high.every((e) => e.severity === 'high')).toBe(true);
    const tc = run([cap, '-f', 'jsonl', '-q', '--action', 'tree_connect,session_setup']).out.trim().split('\n').map((l) => JSON.parse(l));
    expect(new Set(tc.map((e) => e.action))).toEqual(new Set(['tree_connect', 'session_setup']));
  });
  it('--action before the inputs takes one value, not the inputs too; repeated, its values add up (found by a new-user trial)', () => {
    const cap = labCapture(/admin/i);
    const before = run(['--action', 'tree_connect', cap, '-f', 'jsonl', '-q']);
    expect(before.code).toBe(0);
    const evs = before.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(evs.length).toBeGreaterThan(0);
    expect(new Set(evs.map((e) => e.action))).toEqual(new Set(['tree_connect']));
    const bad = run(['--action', 'foo', cap]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown action "foo"');
    // --stories beside --action used to print 'no SMB events' with exit 0
    const both = run([cap, '--stories', '--action', 'create']);
    expect(both.code).toBe(2);
    expect(both.err.split('\n')[0]).toBe('smbtrail: --stories prints only the stories; leave out --action (or use --action story without --stories)');
    const twice = run(['--action', 'tree_connect', '--action', 'session_setup', cap, '-f', 'jsonl', '-q']).out.trim().split('\n').map((l) => JSON.parse(l));
    expect(new Set(twice.map((e) => e.action))).toEqual(new Set(['tree_connect', 'session_setup']));
  });
  it('a damaged capture in a batch is named on stderr, even with -q, and the exit status stays 0 (found by a new-user trial)', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'damaged-'));
    fs.writeFileSync(path.join(dir, 'cut.pcap'), fs.readFileSync(labCapture(/smbexec/i)).subarray(0, 5000));
    fs.writeFileSync(path.join(dir, 'cut.pcap.gz'), zlib.gzipSync(fs.readFileSync(labCapture(/smb21/i))).subarray(0, 3000));
    fs.copyFileSync(labCapture(/admin/i), path.join(dir, 'whole.pcap'));
    const r = run([dir, '-f', 'jsonl', '-q']);
    expect(r.code).toBe(0);
    expect(r.err.trim().split('\n').sort()).toEqual([
      `smbtrail: ${dir}/cut.pcap: damaged capture file (truncated_record=1); everything readable in it was scanned`,
      `smbtrail: ${dir}/cut.pcap.gz: damaged capture file (gzip_truncated=1); everything readable in it was scanned`,
    ].sort());
    expect(r.out.split('\n').filter(Boolean).some((l) => JSON.parse(l).capture === `${dir}/cut.pcap`)).toBe(true);
    // --per-file says it in the file's own line instead
    const p = run([dir, '-f', 'jsonl', '-q', '--per-file']);
    expect(p.err).not.toContain('damaged capture file');
    expect(p.err).toMatch(/cut\.pcap: .*anomalies: .*truncated_record=1/);
  });
  it('the table has no escape sequences when stdout is not a terminal', () => {
    const r = run([labCapture(/admin/i)]);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('\x1b');
    expect(r.out).toContain('ADMIN$');
  });
});
