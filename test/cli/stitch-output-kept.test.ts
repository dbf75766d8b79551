/**
 * Found in review of f488afe: followStitched now passes each file's bytes to cb.progress when its 'done'
 * arrives, and run-scan's progress callback calls gotSomething(), which starts (truncates) the -o
 * file. When the stitched stream then fails as a whole (its run cannot be written: EFBIG here,
 * ENOSPC in the field; or the worker dies), no event of it is written, yet `-o FILE` has been
 * emptied: at 01969d6 an existing -o file kept its content ("nothing could be read: yesterday's
 * timeline stays as it was"). On the in-thread path (inputs < 2 MB) the files are even reported
 * done before failed (see stitch-in-thread-sort-fail.test.ts).
 *
 * The run file write is made to fail with RLIMIT_FSIZE (SIGXFSZ ignored: write() gets EFBIG).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');

it('--stitch whose stream cannot be sorted leaves an existing -o file alone', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-stitch-o-'));
  const out = path.join(dir, 'timeline.jsonl');
  fs.writeFileSync(out, 'yesterday\n');
  try {
    // 10-many-small-files.pcap takes the inputs past IN_THREAD_BYTES: the worker path
    const caps = ['01-smb21-session.pcap', '05-admin-share-exe-copy.pcap', '10-many-small-files.pcap'].map((c) => path.join(ROOT, 'captures', c));
    const script = `trap '' XFSZ; ulimit -f 64; exec "${process.execPath}" "${CLI}" scan --stitch ${caps.map((c) => `"${c}"`).join(' ')} -f jsonl -q -o "${out}"`;
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, SMBTRAIL_SORT_RECORDS: '1000000' } });
    expect(r.stderr).toContain('cannot sort the timeline');
    expect(r.status).not.toBe(0);
    // observed: '' (emptied); at 01969d6: 'yesterday\n'
    expect(fs.readFileSync(out, 'utf8')).toBe('yesterday\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
