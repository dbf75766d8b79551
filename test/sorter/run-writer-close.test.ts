import { describe, expect, it } from 'vitest';
import { createRequire } from 'module';
const req = createRequire(__filename);
const fs = req('fs') as typeof import('fs');
import * as os from 'os';
import * as path from 'path';

// A run whose write fails (ENOSPC in $TMPDIR): SyncRunWriter.close() closes its fd in `finally`,
// then RunSpiller.spill() calls abort(), which closes the same number again. With other threads
// opening files meanwhile (two scanning workers, the table worker), that number may be theirs.
describe('SyncRunWriter after a failed write', () => {
  it('closes its descriptor once', async () => {
    const { RunSpiller } = req('../../dist/events/sorter.js') as typeof import('../../src/events/sorter');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dc-'));
    const closed: number[] = [];
    const realClose = fs.closeSync;
    const realWrite = fs.writeSync;
    (fs as { closeSync: unknown }).closeSync = (fd: number) => { closed.push(fd); realClose(fd); };
    (fs as { writeSync: unknown }).writeSync = ((..._a: unknown[]) => {
      const e = new Error('ENOSPC: no space left on device, write') as NodeJS.ErrnoException;
      e.code = 'ENOSPC';
      throw e;
    });
    try {
      const sp = new RunSpiller(dir, 'x', { maxRecords: 2 });
      expect(() => { for (let i = 0; i < 3; i++) sp.add(i, 0, 0, i, i, '{}\n'); }).toThrow(/ENOSPC|no space/);
    } finally {
      (fs as { closeSync: unknown }).closeSync = realClose; (fs as { writeSync: unknown }).writeSync = realWrite;
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const counts = new Map<number, number>();
    for (const fd of closed) counts.set(fd, (counts.get(fd) ?? 0) + 1);
    expect([...counts.values()].filter((n) => n > 1)).toEqual([]);
  });
});
