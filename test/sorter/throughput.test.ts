/**
 * Throughput of the sorter: a measurement, not a timed test. It only runs with SORTER_BENCH=1:
 *   SORTER_BENCH=1 npx vitest run test/sorter/throughput.test.ts      (N=... for another count)
 * The sorter is compiled to plain CommonJS (as tsc builds it for the CLI) and run in a child node,
 * because vitest's module transform slows hot cross-module calls down by a third or more.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const N = Number(process.env.N ?? 1_000_000);

const BENCH = `
const { createEventSorter } = require('./sorter');
const { synthetic } = require('./gen');
const N = ${N};
const tmpDir = process.argv[2];
const rate = (n, ms) => Math.round(n / (ms / 1000)).toLocaleString('en-US') + ' records/s';
async function run(label, opts, input) {
  const s = createEventSorter({ tmpDir, ...opts });
  const t0 = performance.now();
  for (const r of input) if (!s.add(r)) await s.drained();
  const t1 = performance.now();
  let n = 0;
  for await (const _ of s.finish()) n++;
  const t2 = performance.now();
  if (n !== N) throw new Error('lost records');
  console.log(label + ': runs ' + s.spilledRuns + '; add ' + (t1 - t0).toFixed(0) + ' ms, finish ' + (t2 - t1).toFixed(0) +
    ' ms; ' + rate(N, t2 - t0) + '; peak RSS ' + Math.round(process.resourceUsage().maxRSS / 1024) + ' MB');
}
(async () => {
  const mode = process.argv[3];
  if (mode === 'gen') {
    const t = performance.now(); let k = 0;
    for (const r of synthetic(N, 5)) k += r.seq;
    console.log('generating the records alone: ' + (performance.now() - t).toFixed(0) + ' ms (' + rate(N, performance.now() - t) + ')');
  } else if (mode === 'memory') {
    const all = [...synthetic(N, 5)];
    await run('in memory (records generated beforehand)', { maxInMemory: N }, all);
  } else {
    await run('spill+merge, maxInMemory ' + mode + ' (generation included)', { maxInMemory: Number(mode) }, synthetic(N, 5));
  }
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe.runIf(process.env.SORTER_BENCH)('sorter throughput', () => {
  it('in memory and spill+merge', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sorter-bench-'));
    try {
      const sources: [string, string][] = [
        ['record', path.join(__dirname, '../../src/events/record.ts')],
        ['sorter', path.join(__dirname, '../../src/events/sorter.ts')],
        ['gen', path.join(__dirname, 'gen.ts')],
      ];
      for (const [name, file] of sources) {
        const js = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        });
        fs.writeFileSync(path.join(tmp, `${name}.js`), js.outputText);
      }
      fs.writeFileSync(path.join(tmp, 'bench.js'), BENCH);
      const work = path.join(tmp, 'work');
      fs.mkdirSync(work);
      // one process per case, so that each peak RSS is its own
      for (const mode of ['gen', '50000', '200000', 'memory']) {
        const r = spawnSync(process.execPath, [path.join(tmp, 'bench.js'), work, mode], { encoding: 'utf8' });
        expect(r.stderr).toBe('');
        process.stdout.write(r.stdout);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 600_000);
});
