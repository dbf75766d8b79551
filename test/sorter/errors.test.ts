/**
 * Failures of the keyed runs: a temporary directory that cannot be made, a full disk, a run gone
 * or cut short, and the clean-up at exit and on signals. Each is one line (a SorterError), never
 * a crash or a silently shorter timeline.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTempDir, RunSpiller, SorterError } from '../../src/events/sorter';
import { mergeAll } from './gen';

let tmp: string;
beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sorter-err-')); });
afterEach(() => {
  fs.chmodSync(tmp, 0o700);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function failure(f: () => unknown): SorterError {
  let err: unknown = null;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(SorterError);
  expect((err as Error).message).not.toContain('\n');
  return err as SorterError;
}

async function rejection(p: Promise<unknown>): Promise<SorterError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(SorterError);
  expect((e as Error).message).not.toContain('\n');
  return e as SorterError;
}


/** one producer's runs of one-line records, `per` a run (record i has key 1000 - i) */
function spill(dir: string, per: number): { spiller: RunSpiller; add: (i: number) => void } {
  const spiller = new RunSpiller(dir, 'f000000', { maxRecords: per });
  return { spiller, add: (i) => spiller.add(1000 - i, 0, 0, i, i, `record ${i}\n`) };
}

describe('the temporary directory cannot be created', () => {
  it('under a directory that does not exist: one clear line with the errno code', async () => {
    const where = path.join(tmp, 'no', 'such', 'dir');
    const e = await rejection(createTempDir(where));
    expect(e.message).toBe(`cannot create a temporary directory under ${where} to sort events: no such file or directory (ENOENT)`);
    expect(e.code).toBe('ENOENT');
  });

  it('under a file', async () => {
    const file = path.join(tmp, 'plain-file');
    fs.writeFileSync(file, 'x');
    const e = await rejection(createTempDir(file));
    expect(e.message).toMatch(/^cannot create a temporary directory under .*plain-file to sort events: not a directory \(ENOTDIR\)$/);
  });

  it.skipIf(process.getuid?.() === 0)('under a read-only directory (permission denied)', async () => {
    fs.chmodSync(tmp, 0o500);
    const e = await rejection(createTempDir(tmp));
    expect(e.message).toMatch(/to sort events: permission denied \(EACCES\)$/);
  });
});

describe('a failure in the middle', () => {
  it('a run that cannot be created (its name taken by a planted symlink): a SorterError naming it, the link not followed', () => {
    const { spiller, add } = spill(tmp, 10);
    for (let i = 0; i < 10; i++) add(i);
    const target = path.join(tmp, 'elsewhere');
    fs.writeFileSync(target, 'untouched');
    fs.symlinkSync(target, path.join(tmp, 'f000000-000001.run'));
    const e = failure(() => { for (let i = 10; i < 40; i++) add(i); spiller.finish(); });
    expect(e.message).toBe(`cannot write a sorted run to ${path.join(tmp, 'f000000-000001.run')}: file already exists (EEXIST)`);
    expect(e.code).toBe('EEXIST');
    expect(fs.readFileSync(target, 'utf8')).toBe('untouched');
    expect(fs.lstatSync(path.join(tmp, 'f000000-000001.run')).isSymbolicLink()).toBe(true);
  });

  it('a run gone before the merge: the merge fails with one line, it does not skip the run', () => {
    const { spiller, add } = spill(tmp, 10);
    for (let i = 0; i < 35; i++) add(i);
    const runs = spiller.finish();
    expect(runs.length).toBe(4);
    fs.rmSync(runs[1]);
    const e = failure(() => mergeAll(runs));
    expect(e.message).toBe('cannot read a sorted run: no such file or directory (ENOENT)');
    expect(e.code).toBe('ENOENT');
  });

  it('a run cut short is reported by name, not silently shortened', () => {
    const { spiller, add } = spill(tmp, 10);
    for (let i = 0; i < 25; i++) add(i);
    const runs = spiller.finish();
    fs.truncateSync(runs[0], fs.statSync(runs[0]).size - 3);
    const e = failure(() => mergeAll(runs));
    expect(e.message).toBe(`truncated run ${runs[0]}`);
  });

  it('the runs of one producer merge back whole when nothing fails (the reference for the above)', () => {
    const { spiller, add } = spill(tmp, 10);
    for (let i = 0; i < 25; i++) add(i);
    expect(mergeAll(spiller.finish())).toBe(Array.from({ length: 25 }, (_, k) => `record ${24 - k}\n`).join(''));
  });
});

describe('process exit and signals', () => {
  /** the sorter as plain JavaScript in `dir`, for a child node process */
  function compileSorter(dir: string): void {
    const src = fs.readFileSync(path.join(__dirname, '../../src/events/sorter.ts'), 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
    fs.writeFileSync(path.join(dir, 'sorter.js'), js.outputText);
  }

  /** a child that spills 9 records in runs of 2 into a temporary directory under `work`, then does `ending` */
  function child(ending: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
    const code = path.join(tmp, 'code');
    fs.mkdirSync(code, { recursive: true });
    compileSorter(code);
    const work = path.join(tmp, 'work');
    fs.mkdirSync(work, { recursive: true });
    fs.writeFileSync(path.join(code, 'main.js'), `
      const { createTempDir, RunSpiller } = require('./sorter');
      (async () => {
        const dir = await createTempDir(${JSON.stringify(work)});
        const s = new RunSpiller(dir, 'f', { maxRecords: 2, maxRuns: 1000 });
        for (let i = 0; i < 9; i++) s.add(9 - i, 0, 0, i, i, 'line ' + i + '\\n');
        s.finish();
        console.log(require('fs').readdirSync(dir).length);
        ${ending}
      })();
    `);
    const r = spawnSync(process.execPath, [path.join(code, 'main.js')], { encoding: 'utf8', timeout: 20_000 });
    expect(fs.readdirSync(work)).toEqual([]); // nothing left behind
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  }

  it('process.exit() with runs written still removes their directory', () => {
    const r = child('process.exit(3);');
    expect(r.stdout.trim()).toBe('5');
    expect(r.status).toBe(3);
  });

  it('SIGINT removes the directory, then the process dies of SIGINT as it would have', () => {
    const r = child(`process.kill(process.pid, 'SIGINT'); setTimeout(() => console.log('survived'), 2000);`);
    expect(r.stdout.trim()).toBe('5');
    expect(r.signal).toBe('SIGINT');
  });

  it("SIGTERM with the program's own handler: left to it (files intact), removed at its exit", () => {
    const r = child(`
      process.on('SIGTERM', () => { console.log('own handler', require('fs').readdirSync(dir).length); process.exit(143); });
      process.kill(process.pid, 'SIGTERM');
      setTimeout(() => {}, 2000);`);
    expect(r.stdout.trim().split('\n')).toEqual(['5', 'own handler 5']);
    expect(r.status).toBe(143);
  });
});
