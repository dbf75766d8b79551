import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/events/record';
import { createEventSorter, EventSorter, SorterError } from '../../src/events/sorter';
import { synthetic } from './gen';

let tmp: string;
beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sorter-err-')); });
afterEach(() => {
  fs.chmodSync(tmp, 0o700);
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function drain(s: EventSorter): Promise<EventRecord[]> {
  const out: EventRecord[] = [];
  for await (const r of s.finish()) out.push(r);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<SorterError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(SorterError);
  expect((e as Error).message).not.toContain('\n');
  return e as SorterError;
}

describe('the temporary directory cannot be created', () => {
  it('nonexistent tmpDir: one clear line, from drained(), add() and finish()', async () => {
    const where = path.join(tmp, 'no', 'such', 'dir');
    const s = createEventSorter({ tmpDir: where, maxInMemory: 2 });
    const recs = [...synthetic(3, 1)];
    s.add(recs[0]);
    s.add(recs[1]);
    expect(s.add(recs[2])).toBe(false);
    const e = await rejection(s.drained());
    expect(e.message).toBe(`cannot create a temporary directory under ${where} to sort events: no such file or directory (ENOENT)`);
    expect(e.code).toBe('ENOENT');
    expect(() => s.add(recs[0])).toThrow(e);
    expect(() => s.finish()).toThrow(e);
    expect(await rejection(s.drained())).toBe(e);
    await s.cleanup();
  });

  it('tmpDir is a file', async () => {
    const file = path.join(tmp, 'plain-file');
    fs.writeFileSync(file, 'x');
    const s = createEventSorter({ tmpDir: file, maxInMemory: 1 });
    for (const r of synthetic(2, 1)) s.add(r);
    const e = await rejection(s.drained());
    expect(e.message).toMatch(/^cannot create a temporary directory under .*plain-file to sort events: not a directory \(ENOTDIR\)$/);
  });

  it('the error also ends the iteration when drained() was never awaited', async () => {
    const s = createEventSorter({ tmpDir: path.join(tmp, 'missing'), maxInMemory: 5 });
    for (const r of synthetic(50, 1)) s.add(r);
    const e = await rejection(drain(s));
    expect(e.message).toMatch(/^cannot create a temporary directory under .*missing to sort events: no such file or directory \(ENOENT\)$/);
  });

  it.skipIf(process.getuid?.() === 0)('read-only tmpDir (permission denied)', async () => {
    fs.chmodSync(tmp, 0o500);
    const s = createEventSorter({ tmpDir: tmp, maxInMemory: 1 });
    for (const r of synthetic(2, 1)) s.add(r);
    const e = await rejection(s.drained());
    expect(e.message).toMatch(/to sort events: permission denied \(EACCES\)$/);
  });
});

describe('a failure in the middle', () => {
  it.skipIf(!fs.existsSync('/dev/full'))('disk full while a run is written: rejected, temporary files removed', async () => {
    const s = createEventSorter({ tmpDir: tmp, maxInMemory: 200, chunkBytes: 4096 });
    const recs = [...synthetic(1000, 9)];
    let i = 0;
    for (; i <= 200; i++) if (!s.add(recs[i])) await s.drained();
    expect(s.spilledRuns).toBe(1);
    const dir = s.tempDir!;
    // the next run lands on a device that is always full: the kernel answers ENOSPC mid-write
    fs.symlinkSync('/dev/full', path.join(dir, 'run-000002.jsonl'));
    let err: unknown = null;
    for (; i < recs.length && !err; i++) {
      try {
        if (!s.add(recs[i])) await s.drained();
      } catch (e) {
        err = e;
      }
    }
    expect(err).toBeInstanceOf(SorterError);
    const e = err as SorterError;
    expect(e.message).toBe(`cannot write a sorted run to ${path.join(dir, 'run-000002.jsonl')}: no space left on device (ENOSPC)`);
    expect(e.code).toBe('ENOSPC');
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.readdirSync(tmp)).toEqual([]);
    expect(s.tempDir).toBeNull();
    expect(() => s.finish()).toThrow(e);
  });

  it('a run file gone before the merge: finish() rejects, the rest is removed', async () => {
    const s = createEventSorter({ tmpDir: tmp, maxInMemory: 10 });
    for (const r of synthetic(35, 2)) if (!s.add(r)) await s.drained();
    const dir = s.tempDir!;
    fs.rmSync(path.join(dir, 'run-000002.jsonl'));
    const e = await rejection(drain(s));
    expect(e.message).toBe(`cannot read the sorted run ${path.join(dir, 'run-000002.jsonl')}: no such file or directory (ENOENT)`);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('a truncated run file is reported, not silently shortened', async () => {
    const s = createEventSorter({ tmpDir: tmp, maxInMemory: 10 });
    for (const r of synthetic(25, 2)) if (!s.add(r)) await s.drained();
    const file = path.join(s.tempDir!, 'run-000001.jsonl');
    fs.truncateSync(file, fs.statSync(file).size - 3);
    const e = await rejection(drain(s));
    expect(e.message).toBe(`cannot read the sorted run ${file}: truncated run (no newline at the end)`);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});

describe('process exit and signals', () => {
  /** the sorter as plain JavaScript (record.ts, sorter.ts) in `dir`, for a child node process */
  function compileSorter(dir: string): void {
    for (const name of ['record', 'sorter']) {
      const src = fs.readFileSync(path.join(__dirname, '../../src/events', `${name}.ts`), 'utf8');
      const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
      fs.writeFileSync(path.join(dir, `${name}.js`), js.outputText);
    }
  }

  function child(ending: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
    const code = path.join(tmp, 'code');
    fs.mkdirSync(code, { recursive: true });
    compileSorter(code);
    const work = path.join(tmp, 'work');
    fs.mkdirSync(work, { recursive: true });
    fs.writeFileSync(path.join(code, 'main.js'), `
      const { createEventSorter } = require('./sorter');
      (async () => {
        const s = createEventSorter({ tmpDir: ${JSON.stringify(work)}, maxInMemory: 2 });
        for (let i = 0; i < 9; i++) {
          const r = { sec: 9 - i, ns: 0, seq: i, ev: { capture: 'c', frame: i } };
          if (!s.add(r)) await s.drained();
        }
        console.log(require('fs').readdirSync(s.tempDir).length);
        ${ending}
      })();
    `);
    const r = spawnSync(process.execPath, [path.join(code, 'main.js')], { encoding: 'utf8', timeout: 20_000 });
    expect(fs.readdirSync(work)).toEqual([]); // nothing left behind
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  }

  it('process.exit() with a spilled sorter still removes its directory', () => {
    const r = child('process.exit(3);');
    expect(r.stdout.trim()).toBe('4');
    expect(r.status).toBe(3);
  });

  it('SIGINT removes the directory, then the process dies of SIGINT as it would have', () => {
    const r = child(`process.kill(process.pid, 'SIGINT'); setTimeout(() => console.log('survived'), 2000);`);
    expect(r.stdout.trim()).toBe('4');
    expect(r.signal).toBe('SIGINT');
  });

  it("SIGTERM with the program's own handler: left to it (files intact), removed at its exit", () => {
    const r = child(`
      process.on('SIGTERM', () => { console.log('own handler', require('fs').readdirSync(s.tempDir).length); process.exit(143); });
      process.kill(process.pid, 'SIGTERM');
      setTimeout(() => {}, 2000);`);
    expect(r.stdout.trim().split('\n')).toEqual(['4', 'own handler 4']);
    expect(r.status).toBe(143);
  });
});
