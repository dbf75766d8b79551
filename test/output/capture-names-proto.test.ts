/**
 * Found in review of 24c785f: captureNames() returned a plain object keyed by label. A capture whose label
 * is `__proto__` (`smbtrail scan __proto__` in the directory holding it) is not stored (assigning
 * a string to __proto__ is ignored) and the lookup returns Object.prototype: the table worker and
 * the producer call forTerminal() on it and the file is abandoned as an internal error
 * ("s.replace is not a function"), exit 1. Before 24c785f the table showed it.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { captureNames } from '../../src/output/table';
import { forTerminal } from '../../src/output/sanitize';

const ROOT = path.resolve(__dirname, '../..');

describe('captureNames and a capture named __proto__', () => {
  it('maps the label to a string', () => {
    const names = captureNames(['__proto__', 'a/b.pcap']);
    expect(names.get('__proto__')).toBe('__proto__');
  });

  it('the CLI draws the table of a capture named __proto__', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-proto-'));
    try {
      fs.copyFileSync(path.join(ROOT, 'captures/05-admin-share-exe-copy.pcap'), path.join(dir, '__proto__'));
      const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'scan', '__proto__', '-q', '--color=false'], { cwd: dir, encoding: 'utf8' });
      // observed: status 1, stderr "__proto__: internal error, capture abandoned: s.replace is not a function", stdout "no SMB events"
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('#12 __proto__');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('two different files shown alike', () => {
  it('a name holding ESC and one holding the four characters \\x1b get different names in the table', () => {
    const names = captureNames(['d/a\x1b.pcap', 'd/a\\x1b.pcap']);
    // the table prints them through forTerminal (eventCells): both come out as the text a\x1b.pcap
    const shown = [...names.values()].map(forTerminal);
    expect(new Set(shown).size).toBe(2);
  });
});
