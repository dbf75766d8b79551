/**
 * Found in review of 01969d6: "damaged captures (truncated/corrupt records or compression) get one stderr
 * line even with -q". The DAMAGE pattern in run-scan.ts misses the anomalies that stop reading a
 * file in the middle: pcap 'absurd_caplen' (a corrupt record header), pcapng 'bad_block_length'
 * (a block whose trailing length disagrees) and 'bad_section_header'. Everything after the bad
 * record is lost without a word with -q.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { damageOf } from '../../src/cli/run-scan';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');

describe('damageOf', () => {
  it('names the anomalies that end a file early', () => {
    expect(damageOf({ absurd_caplen: 1 })).not.toBeNull();
    expect(damageOf({ bad_block_length: 1 })).not.toBeNull();
    expect(damageOf({ bad_section_header: 1 })).not.toBeNull();
  });
});

describe('the CLI on a pcap whose 21st record header is corrupt', () => {
  it('prints the damaged-file line with -q', () => {
    const d = Buffer.from(fs.readFileSync(path.join(ROOT, 'captures/01-smb21-session.pcap')));
    let off = 24;
    for (let n = 0; n < 20; n++) off += 16 + d.readUInt32LE(off + 8);
    d.writeUInt32LE(0x7fffffff, off + 8);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-absurd-'));
    const f = path.join(dir, 'absurd.pcap');
    fs.writeFileSync(f, d);
    try {
      const r = spawnSync(process.execPath, [CLI, 'scan', f, '-q', '-f', 'jsonl'], { encoding: 'utf8' });
      // observed: 3 events of 32, stderr empty (capinfos: "appears to be damaged or corrupt")
      expect(r.stdout.trim().split('\n').length).toBeLessThan(32);
      expect(r.stderr).toContain('damaged capture file');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
