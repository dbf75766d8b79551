/**
 * The table of a batch is drawn by a worker from the sorted runs (dist/output/table-worker.js,
 * hence the built modules here). Found in review: a run that failed in the middle of the merge
 * left the rows drawn so far without the table's bottom border.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event } from '../sorter/gen';

const DIST = path.resolve(__dirname, '../../dist');
/* eslint-disable @typescript-eslint/no-require-imports */
const { drawTableFromRuns } = require(path.join(DIST, 'output/draw-table.js')) as typeof import('../../src/output/draw-table');
const { RunSpiller } = require(path.join(DIST, 'events/sorter.js')) as typeof import('../../src/events/sorter');
const { headWidths, measureEvent } = require(path.join(DIST, 'output/table.js')) as typeof import('../../src/output/table');
const { formatLine } = require(path.join(DIST, 'output/writer.js')) as typeof import('../../src/output/writer');

let tmp = '';
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-draw-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

const RUN_HEAD = 72;
const HEADER = 44;

/**
 * two runs, a's 200 events (more than the worker's 64 KiB merge buffer, whose rows a failure in
 * the same merge call loses) and b's 5 later ones; b's third record is `corrupt`
 */
function runs(corrupt: boolean): { files: string[]; widths: number[] } {
  const widths = headWidths();
  const files: string[] = [];
  for (const [name, from, n] of [['a', 1, 200], ['b', 1000, 5]] as const) {
    const s = new RunSpiller(tmp, `${name}${corrupt ? 'x' : ''}`, { maxRecords: 1000 });
    const lens: number[] = [];
    for (let i = 0; i < n; i++) {
      const e = event({ frame: from + i, path: `${name}\\file-${i}.txt`, rules: [], summary: null, refs: [] });
      measureEvent(widths, e);
      const line = formatLine('jsonl', e);
      lens.push(Buffer.byteLength(line));
      s.add(from + i, 0, 0, from + i, i, line);
    }
    const [file] = s.finish();
    if (corrupt && name === 'b') {
      // a length no record can have, at the third record of b
      const at = RUN_HEAD + HEADER * 2 + lens[0] + lens[1];
      const fd = fs.openSync(file, 'r+');
      const b = Buffer.alloc(4);
      b.writeUInt32LE(0x7fffffff);
      fs.writeSync(fd, b, 0, 4, at);
      fs.closeSync(fd);
    }
    files.push(file);
  }
  return { files, widths };
}

async function drawAll(files: string[], widths: number[]): Promise<{ text: string; error: Error | null }> {
  const drawn = drawTableFromRuns(files, widths, { color: false, columns: 400 });
  let text = '';
  let error: Error | null = null;
  try {
    for await (const t of drawn.chunks()) text += t;
  } catch (e) {
    error = e as Error;
  } finally {
    await drawn.stop();
  }
  return { text, error };
}

describe('the table drawn from runs', () => {
  it('whole runs: every row, between a top and a bottom border', async () => {
    const { files, widths } = runs(false);
    const { text, error } = await drawAll(files, widths);
    expect(error).toBeNull();
    const lines = text.trimEnd().split('\n');
    expect(lines[0].startsWith('┌')).toBe(true);
    expect(lines[lines.length - 1].startsWith('└')).toBe(true);
    for (let i = 0; i < 200; i++) expect(text).toContain(`a\\file-${i}.txt`);
    for (let i = 0; i < 5; i++) expect(text).toContain(`b\\file-${i}.txt`);
  });

  it('a run corrupt in the middle: the rows before it, closed by the bottom border, then the error', async () => {
    const { files, widths } = runs(true);
    const { text, error } = await drawAll(files, widths);
    expect(error?.name).toBe('SorterError');
    expect(error?.message).toMatch(/^corrupt run .*bx-000001\.run$/);
    expect(text).toContain('a\\file-0.txt');
    expect(text).not.toContain('b\\file-2.txt');
    const lines = text.trimEnd().split('\n');
    expect(lines[0].startsWith('┌')).toBe(true);
    expect(lines[lines.length - 1].startsWith('└')).toBe(true);
  });
});
