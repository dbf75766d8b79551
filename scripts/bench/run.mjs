#!/usr/bin/env node
// smbtrail benchmark (issue 4): one run, the same files, one Markdown table.
//
//   scripts/bench/run.sh [--workdir DIR] [--runs N] [--quick] [--only LIST] [--meta-copies K]
//                        [--out FILE] [--build] [--no-generate]
//
//   --workdir DIR     captures, outputs and results (default /tmp/smbtrail-bench; never in git)
//   --runs N          best of N for smbtrail and cat (default 5; inputs under 50 MB get max(N, 10))
//   --quick           skip tshark (the peer reference takes ~85 s per GB)
//   --only LIST       comma-separated subset of: bulk, mixed, meta, meta-big, scaling, jobs
//   --meta-copies K   copies of captures/10-many-small-files.pcap in the big metadata capture (40)
//   --out FILE        the Markdown table (default WORKDIR/bench.md; the raw JSON goes next to it)
//   --build           `npm run build` first (otherwise dist/ is used as it is)
//   --no-generate     fail instead of running scripts/lab/bulk.sh when the bulk captures are missing
//
// Inputs (made when missing):
//   bulk       WORKDIR/smb3-bulk.pcap        ~1 GB SMB 3.1.1 bulk transfer   (scripts/lab/bulk.sh, root, ~25 s)
//   mixed      WORKDIR/smb3-bulk-mixed.pcap  the same with HTTP beside it    (idem)
//   meta       captures/10-many-small-files.pcap   2,002 CREATEs, 2.5 MB, one TCP connection
//   meta-big   WORKDIR/meta-x40.pcap: K copies of `meta`, copy k shifted in time to follow copy k-1
//              and with its client port rewritten (TCP checksum updated), i.e. K distinct TCP
//              connections one after another, as a client that does the same job K times would make
//   scaling    WORKDIR/smb3-bulk-q1.pcap, -q2.pcap: the first 1/4 and 1/2 of the bulk packets (editcap -r),
//              and meta-x10.pcap, meta-x20.pcap: K/4 and K/2 copies (implies bulk and meta-big)
//   jobs       --jobs 1 against --jobs 2 (and against two independent --jobs 1 processes, one per
//              half of the files) on directories of 8+ captures: WORKDIR/jobs/bulk8 (the bulk
//              capture cut by editcap -c 90000), jobs/meta9 (the big metadata capture cut by -c 60000)
//              jobs/meta-x10x8 (8 copies of meta-x10.pcap), jobs/meta-x40x8 (8 hard links to
//              meta-x40.pcap) and jobs/bulk-x8 (8 hard links to the bulk capture: 8.5 GB scanned, one
//              copy on disk); the runs alternate, outputs compared
//
// Method: see notes() below; they are printed under the table.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makeCopies } from './copies.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TIME = '/usr/bin/time';
const US = '\x1f'; // tshark -E aggregator: cannot occur in an SMB name, unlike ','
const TSHARK_FILTER = 'smb2.cmd==3 || smb2.cmd==5';
const SMALL = 50e6; // inputs below this size are timed max(runs, 10) times

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const o = {
    workdir: '/tmp/smbtrail-bench', runs: 5, quick: false, only: null, metaCopies: 40, out: null,
    build: false, generate: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--workdir') o.workdir = val();
    else if (a === '--runs') o.runs = Number(val());
    else if (a === '--quick') o.quick = true;
    else if (a === '--only') o.only = val().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--meta-copies') o.metaCopies = Number(val());
    else if (a === '--out') o.out = val();
    else if (a === '--build') o.build = true;
    else if (a === '--no-generate') o.generate = false;
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) usage('--runs must be a positive integer');
  if (!Number.isInteger(o.metaCopies) || o.metaCopies < 1 || o.metaCopies > 600) usage('--meta-copies must be 1..600');
  const known = ['bulk', 'mixed', 'meta', 'meta-big', 'scaling', 'jobs'];
  for (const n of o.only ?? []) if (!known.includes(n)) usage(`--only: unknown input ${n} (${known.join(', ')})`);
  o.workdir = path.resolve(o.workdir);
  o.out = path.resolve(o.out ?? path.join(o.workdir, 'bench.md'));
  return o;
}

function usage(err) {
  const head = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 24)
    .map((l) => l.replace(/^\/\/ ?/, '')).join('\n');
  process.stderr.write((err ? `run.mjs: ${err}\n\n` : '') + head + '\n');
  process.exit(err ? 2 : 0);
}

// ---------------------------------------------------------------- small helpers

const log = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const die = (msg) => { log(`ERROR: ${msg}`); process.exit(1); };
const exists = (f) => { try { fs.accessSync(f); return true; } catch { return false; } };
const mtime = (f) => fs.statSync(f).mtimeMs;
const which = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || null;
const sh = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  if (r.error) throw r.error;
  return r;
};

/** The machine's CPU time so far and the part of it the hypervisor gave to others (Linux /proc/stat), null elsewhere. */
function cpuTimes() {
  try {
    const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: v.reduce((a, b) => a + b, 0), steal: v[7] ?? 0 };
  } catch { return null; }
}

/** share of all CPUs' time stolen by the hypervisor between two cpuTimes(), null when unknown */
const stealShare = (a, b) => (a && b && b.total > a.total ? (b.steal - a.steal) / (b.total - a.total) : null);

/**
 * Runs CMD ARGS once, stdout to OUTFILE (or /dev/null), under /usr/bin/time when it exists (peak
 * RSS). Wall time is measured here, from just before spawn to the child's exit; `steal` is the
 * share of both CPUs' time the hypervisor gave to other guests meanwhile (a VM's noise: the same
 * scan took 17.7 s at 0% and 24.1 s at 17% steal, with user time 17.0 vs 20.8 s).
 */
function measure(cmd, args, outFile = '/dev/null') {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(outFile, 'w');
    const cpu0 = cpuTimes();
    const rssFile = path.join(os.tmpdir(), `smbtrail-bench-rss.${process.pid}`);
    const [c, a] = HAVE_TIME ? [TIME, ['-f', '%M', '-o', rssFile, '--', cmd, ...args]] : [cmd, args];
    const t0 = process.hrtime.bigint();
    const child = spawn(c, a, { stdio: ['ignore', out, 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => { if (stderr.length < 1 << 20) stderr += d; });
    child.on('error', (e) => { fs.closeSync(out); reject(e); });
    child.on('close', (code, signal) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const steal = stealShare(cpu0, cpuTimes());
      fs.closeSync(out);
      let rssKiB = null;
      if (HAVE_TIME) {
        try {
          const m = fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop();
          rssKiB = Number(m);
          fs.unlinkSync(rssFile);
        } catch { /* leave null */ }
        // GNU time prints "Command exited with non-zero status N" on its own stderr file (-o)
      }
      resolve({ wall, code, signal, rssKiB, stderr, steal });
    });
  });
}

async function bestOf(n, cmd, args, outFile) {
  const runs = [];
  for (let i = 0; i < n; i++) {
    const r = await measure(cmd, args, outFile);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr.slice(-2000)}`);
    runs.push(r);
  }
  const best = runs.reduce((a, b) => (b.wall < a.wall ? b : a));
  return {
    best: best.wall, times: runs.map((r) => r.wall), steals: runs.map((r) => r.steal),
    rssKiB: HAVE_TIME ? Math.max(...runs.map((r) => r.rssKiB ?? 0)) : null,
    stderr: runs[runs.length - 1].stderr,
  };
}

const HAVE_TIME = exists(TIME);

// ---------------------------------------------------------------- inputs

/** scripts/lab/bulk.sh, for the missing variants; refuses while the lab is in use (it would be torn down). */
function ensureBulk(opts, want) {
  const files = { plain: path.join(opts.workdir, 'smb3-bulk.pcap'), mixed: path.join(opts.workdir, 'smb3-bulk-mixed.pcap') };
  const missing = want.filter((w) => !exists(files[w]));
  if (missing.length) {
    if (!opts.generate) die(`missing ${missing.map((m) => files[m]).join(', ')} (--no-generate)`);
    if (process.getuid?.() !== 0) die(`missing ${missing.map((m) => files[m]).join(', ')}: generating them needs root (sudo scripts/lab/bulk.sh ${opts.workdir} ${missing.length === 2 ? 'both' : missing[0]})`);
    const ns = sh('ip', ['netns', 'list']).stdout;
    if (/\bsmbtrail-(srv|cli)\b/.test(ns) || exists('/tmp/smbtrail-lab')) {
      die('the SMB lab is in use (namespaces smbtrail-srv/cli or /tmp/smbtrail-lab exist); bulk.sh would tear it down. Try again when run.sh/bulk.sh is done.');
    }
    const what = missing.length === 2 ? 'both' : missing[0];
    log(`generating ${what} bulk capture(s) with scripts/lab/bulk.sh (root, ~25 s each)`);
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/lab/bulk.sh'), opts.workdir, what], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) die(`scripts/lab/bulk.sh failed (exit ${r.status})`);
  }
  return files;
}

function capPackets(file) {
  const r = sh('capinfos', ['-c', '-M', file]);
  const m = /Number of packets:\s*(\d+)/.exec(r.stdout);
  if (!m) die(`capinfos -c ${file}: ${r.stderr}`);
  return Number(m[1]);
}

/** The first FRACTION of FILE's packets, by editcap -r (kept in the workdir, remade when FILE is newer). */
function truncated(file, packets, frac, label, workdir) {
  const out = path.join(workdir, `${path.basename(file, '.pcap')}-${label}.pcap`);
  const n = Math.floor(packets * frac);
  if (!exists(out) || mtime(out) < mtime(file)) {
    log(`editcap -r ${path.basename(file)} ${path.basename(out)} 1-${n}`);
    const r = sh('editcap', ['-r', file, out, `1-${n}`]);
    if (r.status !== 0) die(`editcap failed: ${r.stderr}`);
  }
  return out;
}

// ---------------------------------------------------------------- smbtrail and tshark outputs

function parseSummary(stderr) {
  const m = /packets (\d+), ([\d.]+) MB, TCP flows (\d+), SMB connections (\d+), SMB messages (\d+)/.exec(stderr);
  if (!m) return null;
  const t = /\btime ([\d.]+) s\b/.exec(stderr);
  const ev = /events (\d+): (.*)/.exec(stderr);
  const an = /anomalies: (.*)/.exec(stderr);
  return {
    packets: Number(m[1]), mb: Number(m[2]), tcpFlows: Number(m[3]), smbConnections: Number(m[4]),
    smbMessages: Number(m[5]), internalSeconds: t ? Number(t[1]) : null,
    events: ev ? Number(ev[1]) : null, byAction: ev ? ev[2] : null, anomalies: an ? an[1] : null,
  };
}

/** tree_connect and create events of smbtrail's JSONL: [{frame, name}] each. */
async function smbtrailNames(jsonl) {
  const tc = [];
  const cr = [];
  const rl = readline.createInterface({ input: fs.createReadStream(jsonl), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.includes('"action":"tree_connect"') && !line.includes('"action":"create"')) continue;
    const e = JSON.parse(line);
    if (e.action === 'tree_connect') tc.push({ frame: e.frame, name: e.share ?? '' });
    else if (e.action === 'create') cr.push({ frame: e.frame, name: e.path ?? '' });
  }
  return { tc, cr };
}

/**
 * tshark's -T fields output: frame, smb2.tree, smb2.filename, smb2.cmd, smb2.flags.response, each
 * field's occurrences joined by US. smb2.cmd and smb2.flags.response occur once per SMB2 message and
 * are aligned. smb2.tree is ALSO a generated field ("[Tree: ...]") on every message with a known tree
 * id, so tree connects are counted as TREE_CONNECT requests (cmd 3, response 0), not as tree values;
 * the name is the frame's tree value when the frame holds one message (else "?" and the frame is
 * counted as ambiguous). smb2.filename occurs only in CREATE requests here (an empty name, the share
 * root, is an empty value).
 */
async function tsharkNames(tsv) {
  const tc = [];
  const cr = [];
  let frames = 0;
  let multi = 0;
  let ambiguous = 0;
  let treeValues = 0;
  let fileValues = 0;
  const rl = readline.createInterface({ input: fs.createReadStream(tsv), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line) continue;
    frames++;
    const [frameS, tree = '', file = '', cmdS = '', respS = ''] = line.split('\t');
    const frame = Number(frameS);
    const cmds = cmdS.split(US).map(Number);
    const resp = respS.split(US).map((x) => x === '1' || x === 'True');
    const trees = tree === '' ? [] : tree.split(US);
    const files = file.split(US);
    treeValues += trees.length;
    fileValues += file === '' ? 0 : files.length;
    if (cmds.length > 1) multi++;
    const tcAt = cmds.flatMap((c, i) => (c === 3 && !resp[i] ? [i] : []));
    const nCr = cmds.filter((c, i) => c === 5 && !resp[i]).length;
    for (const i of tcAt) {
      const ok = cmds.length === 1 || trees.length === cmds.length;
      if (!ok) ambiguous++;
      tc.push({ frame, name: ok ? trees[i] ?? '' : '?' });
    }
    if (nCr) {
      if (files.length !== nCr) ambiguous++;
      for (let i = 0; i < nCr; i++) cr.push({ frame, name: files.length === nCr ? files[i] : '?' });
    }
  }
  return { tc, cr, frames, multi, ambiguous, treeValues, fileValues };
}

/** Multiset difference on "frame name" and on names alone. */
function diffNames(a, b) {
  const count = (list, key) => {
    const m = new Map();
    for (const x of list) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
    return m;
  };
  const minus = (ma, mb) => {
    const out = [];
    for (const [k, n] of ma) for (let i = 0; i < n - (mb.get(k) ?? 0); i++) out.push(k);
    return out;
  };
  const fk = (x) => `${x.frame}\t${x.name}`;
  const nk = (x) => x.name;
  const fa = count(a, fk);
  const fb = count(b, fk);
  const na = count(a, nk);
  const nb = count(b, nk);
  return {
    onlyA: minus(fa, fb), onlyB: minus(fb, fa),
    namesOnlyA: minus(na, nb), namesOnlyB: minus(nb, na),
  };
}

// ---------------------------------------------------------------- machine facts

function machine() {
  const cpuinfo = exists('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? '?';
  const mhz = /cpu MHz\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim();
  const git = (args) => sh('git', ['-C', ROOT, ...args]).stdout.trim();
  const dirty = git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length;
  const distMain = path.join(ROOT, 'dist/cli/main.js');
  const tv = which('tshark') ? sh('tshark', ['--version']).stdout.split('\n')[0] : 'not installed';
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: model + (mhz ? ` (${Math.round(Number(mhz))} MHz)` : ''),
    cores: os.cpus().length,
    memGiB: os.totalmem() / 2 ** 30,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    commit: git(['rev-parse', '--short', 'HEAD']),
    srcDirty: dirty,
    distBuilt: exists(distMain) ? new Date(mtime(distMain)).toISOString().replace(/\.\d+Z$/, 'Z') : null,
    tshark: tv,
    loadStart: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

/** A copy of dist/ (+ package.json, node_modules link) so a rebuild during the run changes nothing. */
function snapshot(workdir) {
  const dir = path.join(workdir, 'smbtrail');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return path.join(dir, 'dist/cli/main.js');
}

// ---------------------------------------------------------------- formatting

const f0 = (x) => (x == null || !Number.isFinite(x) ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const f1 = (x) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(1));
const f2 = (x) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(2));
const f3 = (x) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(3));
const median = (xs) => { const a = [...xs].sort((x, y) => x - y); return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2; };
const mib = (kib) => (kib == null ? null : kib / 1024);
/** ALIGN: one letter per column, l or r (default: first column left, the others right). */
const table = (head, rows, align = 'l' + 'r'.repeat(head.length - 1)) => [
  `| ${head.join(' | ')} |`,
  `|${head.map((h, i) => (align[i] === 'l' ? ' --- ' : ' ---: ')).join('|')}|`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const want = (n) => !opts.only || opts.only.includes(n);
  fs.mkdirSync(path.join(opts.workdir, 'out'), { recursive: true });

  for (const t of ['editcap', 'capinfos', ...(opts.quick ? [] : ['tshark'])]) {
    if (!which(t)) die(`${t} not found (apt-get install tshark)`);
  }
  if (!HAVE_TIME) log(`WARNING: ${TIME} not found: no peak RSS (apt-get install time)`);
  if (opts.build) {
    log('npm run build');
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) die('npm run build failed');
  }
  if (!exists(path.join(ROOT, 'dist/cli/main.js'))) die('dist/cli/main.js missing: npm run build (or --build)');

  // --- inputs
  const inputs = []; // {key, label, file, tshark}
  const variants = [...(want('bulk') || want('scaling') || want('jobs') ? ['plain'] : []), ...(want('mixed') ? ['mixed'] : [])];
  const bulk = variants.length ? ensureBulk(opts, variants) : {};
  const metaSrc = path.join(ROOT, 'captures/10-many-small-files.pcap');
  let metaBig = null;
  if (want('bulk') || want('scaling')) inputs.push({ key: 'bulk', label: 'SMB3 bulk', file: bulk.plain, peer: want('bulk') });
  if (want('mixed')) inputs.push({ key: 'mixed', label: 'SMB3 bulk + HTTP (mixed)', file: bulk.mixed, peer: true });
  if (want('meta')) inputs.push({ key: 'meta', label: 'metadata (10-many-small-files)', file: metaSrc, peer: true });
  const metaFile = (k) => {
    const file = path.join(opts.workdir, `meta-x${k}.pcap`);
    if (!exists(file) || mtime(file) < mtime(metaSrc)) {
      log(`making ${path.basename(file)}: ${k} shifted copies of ${path.basename(metaSrc)}`);
      metaBig = makeCopies(metaSrc, file, k);
    }
    return file;
  };
  if (want('meta-big') || want('scaling')) {
    inputs.push({ key: 'meta-big', label: `metadata ×${opts.metaCopies} (ports rewritten, time-shifted)`, file: metaFile(opts.metaCopies), peer: want('meta-big') });
  }
  const series = []; // scaling: {name, full, parts}
  if (want('scaling')) {
    const n = capPackets(bulk.plain);
    series.push({ name: 'SMB3 bulk', full: 'bulk', parts: [
      { key: 'bulk-q1', label: 'SMB3 bulk, first 1/4', frac: 0.25, file: truncated(bulk.plain, n, 0.25, 'q1', opts.workdir) },
      { key: 'bulk-q2', label: 'SMB3 bulk, first 1/2', frac: 0.5, file: truncated(bulk.plain, n, 0.5, 'q2', opts.workdir) },
    ] });
    const K = opts.metaCopies;
    const ks = [...new Set([Math.max(1, Math.round(K / 4)), Math.max(1, Math.round(K / 2))])].filter((k) => k < K);
    series.push({ name: `metadata ×${K}`, full: 'meta-big', parts: ks.map((k, i) => (
      { key: `meta-x${k}`, label: `metadata ×${k}`, frac: k / K, file: metaFile(k) })) });
  }
  const scaling = series.flatMap((x) => x.parts);
  const batches = want('jobs') ? jobsInputs(opts, bulk.plain, metaFile(opts.metaCopies), metaFile(Math.max(1, Math.round(opts.metaCopies / 4)))) : [];

  const mach = machine();
  const main = snapshot(opts.workdir);
  const node = process.execPath;
  log(`smbtrail snapshot: ${main} (git ${mach.commit}${mach.srcDirty ? `, ${mach.srcDirty} uncommitted file(s) in src/` : ''}, dist built ${mach.distBuilt})`);

  // --- startup: node + smbtrail's modules, no capture
  const nStart = Math.max(10, opts.runs);
  log(`startup: node main.js --version, best of ${nStart}`);
  const startup = await bestOf(nStart, node, [main, '--version']);

  // --- smbtrail and cat on every input
  const results = {};
  const measureInput = async (inp) => {
    const size = fs.statSync(inp.file).size;
    const n = size < SMALL ? Math.max(10, opts.runs) : opts.runs;
    log(`${inp.key}: ${path.basename(inp.file)} ${f1(size / 1e6)} MB; warming the page cache`);
    await measure('cat', [inp.file]);
    const cat = await bestOf(n, 'cat', [inp.file]);
    log(`${inp.key}: cat best ${f3(cat.best)} s; smbtrail best of ${n}`);
    const jsonl = path.join(opts.workdir, 'out', `${inp.key}.jsonl`);
    const st = await bestOf(n, node, [main, 'scan', inp.file, '-f', 'jsonl'], jsonl);
    const summary = parseSummary(st.stderr);
    if (!summary) die(`${inp.key}: no summary line in smbtrail's stderr:\n${st.stderr}`);
    log(`${inp.key}: smbtrail best ${f3(st.best)} s (${st.times.map(f3).join(', ')}), peak RSS ${f1(mib(st.rssKiB))} MiB`);
    results[inp.key] = { ...inp, size, runs: n, cat, smbtrail: { best: st.best, times: st.times, steals: st.steals, rssKiB: st.rssKiB, summary, stderr: st.stderr }, jsonl };
  };
  for (const inp of inputs) await measureInput(inp);
  for (const inp of scaling) await measureInput(inp);

  // --- --jobs 1 against --jobs 2
  const jobs = {};
  for (const b of batches) jobs[b.key] = await measureJobs(b, opts, node, main);

  // --- tshark, once per input
  if (!opts.quick) {
    for (const inp of inputs.filter((i) => i.peer)) {
      const r = results[inp.key];
      const tsv = path.join(opts.workdir, 'out', `${inp.key}.tshark.tsv`);
      const args = ['-r', inp.file, '-Y', TSHARK_FILTER, '-T', 'fields', '-E', `aggregator=${US}`,
        '-e', 'frame.number', '-e', 'smb2.tree', '-e', 'smb2.filename', '-e', 'smb2.cmd', '-e', 'smb2.flags.response'];
      log(`${inp.key}: tshark (once; ~85 s per GB)`);
      const t = await measure('tshark', args, tsv);
      if (t.code !== 0) die(`tshark exited ${t.code}: ${t.stderr}`);
      const ts = await tsharkNames(tsv);
      const ours = await smbtrailNames(r.jsonl);
      const dTc = diffNames(ts.tc, ours.tc);
      const dCr = diffNames(ts.cr, ours.cr);
      r.tshark = {
        wall: t.wall, rssKiB: t.rssKiB, tsv, frames: ts.frames, multiMessageFrames: ts.multi, ambiguous: ts.ambiguous,
        treeValues: ts.treeValues, fileValues: ts.fileValues,
        treeConnects: ts.tc.length, creates: ts.cr.length,
        smbtrailTreeConnects: ours.tc.length, smbtrailCreates: ours.cr.length,
        diff: { treeConnects: dTc, creates: dCr },
      };
      log(`${inp.key}: tshark ${f1(t.wall)} s; TC ${ts.tc.length}/${ours.tc.length}, CREATE ${ts.cr.length}/${ours.cr.length} (tshark/smbtrail)`);
      fs.writeFileSync(path.join(opts.workdir, 'out', `${inp.key}.diff.txt`), [
        '# only in tshark (frame\\tname): tree connects', ...dTc.onlyA, '# only in smbtrail: tree connects', ...dTc.onlyB,
        '# only in tshark: creates', ...dCr.onlyA, '# only in smbtrail: creates', ...dCr.onlyB, '',
      ].join('\n'));
    }
  }
  mach.loadEnd = os.loadavg().map((x) => x.toFixed(2)).join(' ');

  // --- report
  const md = report(opts, mach, startup, inputs, series, results, metaBig, batches, jobs);
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, md);
  const jsonOut = opts.out.replace(/\.md$/, '') + '.json';
  fs.writeFileSync(jsonOut, JSON.stringify({ machine: mach, options: opts, startup: { best: startup.best, times: startup.times, rssKiB: startup.rssKiB }, results, jobs }, (k, v) => (k === 'stderr' ? undefined : v), 2));
  process.stdout.write(md);
  log(`wrote ${opts.out} and ${jsonOut}`);
}

// ---------------------------------------------------------------- batches (--jobs)

/** The batch directories, made when missing (editcap -c cuts; copies of meta-x10). */
function jobsInputs(opts, bulkFile, metaBigFile, metaQuarterFile) {
  const root = path.join(opts.workdir, 'jobs');
  const cut = (src, name, per) => {
    const dir = path.join(root, name);
    if (!exists(dir) || fs.readdirSync(dir).length === 0 || mtime(dir) < mtime(src)) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      log(`editcap -c ${per} ${path.basename(src)} ${path.relative(opts.workdir, dir)}/`);
      const r = sh('editcap', ['-c', String(per), src, path.join(dir, 'part.pcap')]);
      if (r.status !== 0) die(`editcap failed: ${r.stderr}`);
    }
    return dir;
  };
  /** DIR/NAME holding PREFIX-1.pcap … PREFIX-n.pcap made from src by put(src, to), remade when src is newer */
  const nOf = (src, name, n, prefix, put) => {
    const dir = path.join(root, name);
    if (!exists(dir) || fs.readdirSync(dir).length !== n || mtime(dir) < mtime(src)) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 1; i <= n; i++) put(src, path.join(dir, `${prefix}-${i}.pcap`));
    }
    return dir;
  };
  const copies = (src, name, n) => nOf(src, name, n, 'copy', (from, to) => fs.copyFileSync(from, to));
  // names for one file: a batch of GBs without GBs of disk (the page cache holds one copy)
  const links = (src, name, n, prefix = 'bulk') => nOf(src, name, n, prefix, (from, to) => { try { fs.linkSync(from, to); } catch { fs.copyFileSync(from, to); } });
  const k = Math.max(1, Math.round(opts.metaCopies / 4));
  const list = [
    { key: 'jobs-bulk-x8', label: '8 links to the SMB3 bulk capture (8.5 GB)', dir: links(bulkFile, 'bulk-x8', 8) },
    { key: 'jobs-bulk8', label: 'SMB3 bulk cut in 8 (`editcap -c 90000`)', dir: cut(bulkFile, 'bulk8', 90000) },
    { key: 'jobs-meta9', label: `metadata ×${opts.metaCopies} cut in 9 (\`editcap -c 60000\`)`, dir: cut(metaBigFile, 'meta9', 60000) },
    { key: 'jobs-meta-x10x8', label: `8 copies of metadata ×${k}`, dir: copies(metaQuarterFile, `meta-x${k}x8`, 8) },
    // the scale of an incident's directory: files of a few seconds each, where start-up, each
    // worker's warm-up (its JIT compiling the decoders) and the last file count for less
    { key: 'jobs-meta-big-x8', label: `8 links to metadata ×${opts.metaCopies}`, dir: links(metaBigFile, `meta-x${opts.metaCopies}x8`, 8, 'copy') },
  ];
  for (const b of list) {
    b.files = fs.readdirSync(b.dir).map((f) => path.join(b.dir, f));
    b.bytes = b.files.reduce((a, f) => a + fs.statSync(f).size, 0);
  }
  return list;
}

/** Share of CPU time idle over `ms` (Linux /proc/stat), null elsewhere. */
function idleShare(ms) {
  const read = () => {
    try {
      const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
      return { total: v.reduce((a, b) => a + b, 0), idle: v[3] + (v[4] ?? 0) };
    } catch { return null; }
  };
  const a = read();
  if (!a) return Promise.resolve(null);
  return new Promise((resolve) => setTimeout(() => {
    const b = read();
    resolve(b && b.total > a.total ? (b.idle - a.idle) / (b.total - a.total) : null);
  }, ms));
}

async function waitQuiet() {
  let last = null;
  for (let i = 0; i < 60; i++) {
    last = await idleShare(1000);
    if (last === null || last >= 0.95) break;
  }
  return last;
}

/**
 * The batch's files dealt into two directories of links (largest first, alternately, so the
 * halves hold about the same bytes): two independent smbtrail processes, one per half, are the
 * reference for what the two cores give when nothing at all is shared.
 */
function halves(b, root) {
  const bySize = b.files.map((f) => [f, fs.statSync(f).size]).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([f]) => f);
  return [0, 1].map((h) => {
    const dir = path.join(root, `${b.key}-half${h}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    bySize.forEach((f, i) => {
      if (i % 2 !== h) return;
      const to = path.join(dir, path.basename(f));
      try { fs.linkSync(f, to); } catch { fs.symlinkSync(f, to); }
    });
    return dir;
  });
}

async function measureJobs(b, opts, node, main) {
  const runs = Math.max(3, opts.runs);
  log(`${b.key}: ${b.files.length} files, ${f1(b.bytes / 1e6)} MB; --jobs 1, --jobs 2 and two processes on halves, rotating, ${runs} rounds`);
  for (const f of b.files) await measure('cat', [f]); // page cache
  const half = halves(b, path.join(opts.workdir, 'jobs-halves'));
  const outDir = path.join(opts.workdir, 'out');
  const out = { 1: path.join(outDir, `${b.key}-j1.jsonl`), 2: path.join(outDir, `${b.key}-j2.jsonl`) };
  const t = { 1: [], 2: [], P: [] };
  const steal = { 1: [], 2: [], P: [] };
  const rss = { 1: 0, 2: 0, P: 0 };
  const idles = [];
  let identical = true;
  let events = null;
  const orders = [[1, 2, 'P'], [2, 'P', 1], ['P', 1, 2]];
  for (let i = 0; i < runs; i++) {
    const idle = await waitQuiet();
    if (idle !== null) idles.push(idle);
    for (const j of orders[i % 3]) {
      if (j === 'P') {
        const t0 = process.hrtime.bigint();
        const cpu0 = cpuTimes();
        const rs = await Promise.all(half.map((dir, h) => measure(node, [main, 'scan', dir, '-f', 'jsonl', '-q', '--jobs', '1', '-o', path.join(outDir, `${b.key}-half${h}.jsonl`)])));
        for (const r of rs) if (r.code !== 0) die(`${b.key} half exited ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`);
        t.P.push(Number(process.hrtime.bigint() - t0) / 1e9);
        steal.P.push(stealShare(cpu0, cpuTimes()));
        rss.P = Math.max(rss.P, ...rs.map((r) => r.rssKiB ?? 0));
        continue;
      }
      const r = await measure(node, [main, 'scan', b.dir, '-f', 'jsonl', '-q', '--jobs', String(j), '-o', out[j]]);
      if (r.code !== 0) die(`${b.key} --jobs ${j} exited ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`);
      t[j].push(r.wall);
      steal[j].push(r.steal);
      rss[j] = Math.max(rss[j], r.rssKiB ?? 0);
    }
    const same = sh('cmp', ['-s', out[1], out[2]]).status === 0;
    identical &&= same;
    events ??= Number(sh('wc', ['-l', out[1]]).stdout.trim().split(/\s+/)[0]);
    const st = (j) => (steal[j][i] === null ? '' : ` (steal ${f0(100 * steal[j][i])}%)`);
    log(`${b.key} round ${i + 1}: --jobs 1 ${f3(t[1][i])} s${st(1)}, --jobs 2 ${f3(t[2][i])} s${st(2)}, two processes ${f3(t.P[i])} s${st('P')}${idle === null ? '' : `, CPUs ${f0(100 * idle)}% idle before`}${same ? '' : ', OUTPUTS DIFFER'}`);
  }
  const best = (a) => Math.min(...a);
  const pct = (x) => `${f0(100 * x)}%`;
  return {
    runs, events, identical,
    j1: { best: best(t[1]), times: t[1], steals: steal[1], rssKiB: HAVE_TIME ? rss[1] : null },
    j2: { best: best(t[2]), times: t[2], steals: steal[2], rssKiB: HAVE_TIME ? rss[2] : null },
    pair: { best: best(t.P), times: t.P, steals: steal.P, rssKiB: HAVE_TIME ? rss.P : null },
    speedup: best(t[1]) / best(t[2]), speedupMedian: median(t[1]) / median(t[2]),
    pairSpeedup: best(t[1]) / best(t.P), pairSpeedupMedian: median(t[1]) / median(t.P),
    idle: idles.length ? `${pct(Math.min(...idles))}–${pct(Math.max(...idles))}` : 'n/a',
  };
}

/** the hypervisor's steal over a set of runs, as "min–max" percent ('n/a' off Linux) */
function stealRange(xs) {
  const v = (xs ?? []).filter((x) => x !== null && x !== undefined);
  if (!v.length) return 'n/a';
  const lo = Math.min(...v), hi = Math.max(...v);
  return lo === hi ? f1(100 * lo) : `${f1(100 * lo)}–${f1(100 * hi)}`;
}

/** Least squares t = a + b x over POINTS [[x, t]]; the largest |residual| ÷ t. */
function fit(points) {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const b = sxx ? points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx : 0;
  const a = my - b * mx;
  const maxRel = Math.max(...points.map(([x, y]) => Math.abs(y - (a + b * x)) / y));
  const maxAbs = Math.max(...points.map(([x, y]) => Math.abs(y - (a + b * x))));
  return { a, b, maxRel, maxAbs };
}

function report(opts, m, startup, inputs, series, R, metaBig, batches = [], J = {}) {
  const scaling = series.flatMap((x) => x.parts);
  const S = startup.best;
  const L = [];
  const cmd = ['scripts/bench/run.sh', ...process.argv.slice(2)].join(' ');
  L.push('## Benchmark', '');
  L.push(`- date ${m.date}; machine: ${m.cpu}, ${m.cores} cores, ${f1(m.memGiB)} GiB RAM, ${m.kernel}; load average ${m.loadStart} at start, ${m.loadEnd} at end`);
  L.push(`- node ${m.node}; smbtrail git ${m.commit}${m.srcDirty ? ` + ${m.srcDirty} uncommitted file(s) in src/` : ''}, dist built ${m.distBuilt}; ${m.tshark}`);
  L.push(`- command: \`${cmd}\` (workdir ${opts.workdir})`);
  if (Number(m.loadStart.split(' ')[0]) > 0.5) L.push(`- WARNING: load average ${m.loadStart.split(' ')[0]} at start on ${m.cores} cores: other processes were running, the times are noisy (compare best and median)`);
  L.push(`- smbtrail: \`node dist/cli/main.js scan FILE -f jsonl > OUT\`, best of ${opts.runs} (inputs < 50 MB: best of ${Math.max(10, opts.runs)}), page cache warm; startup (\`node dist/cli/main.js --version\`, best of ${Math.max(10, opts.runs)}): ${f3(S)} s, peak RSS ${f1(mib(startup.rssKiB))} MiB`);
  L.push('');

  const rows = [];
  for (const inp of [...inputs, ...scaling]) {
    const r = R[inp.key];
    const s = r.smbtrail.summary;
    const t = r.smbtrail.best;
    rows.push([
      r.label, f1(r.size / 1e6), f0(s.packets), f0(s.smbMessages), f3(t), f3(median(r.smbtrail.times)), f0(r.size / 1e6 / t), f0(s.packets / t),
      f0(s.smbMessages / t), f0(s.smbMessages / Math.max(t - S, 1e-9)), f1(mib(r.smbtrail.rssKiB)), f3(r.cat.best),
      f1(t / r.cat.best) + '×', stealRange(r.smbtrail.steals),
    ]);
  }
  if (rows.length) {
    L.push(table(['input', 'MB', 'packets', 'SMB msgs', 'smbtrail s (best)', 'median s', 'MB/s', 'packets/s', 'SMB msgs/s', 'msgs/s excl. startup', 'peak RSS MiB', 'cat s', 'smbtrail ÷ cat', 'steal % (runs)'], rows));
    L.push('');
  }

  const withTs = inputs.filter((i) => R[i.key]?.tshark);
  if (withTs.length) {
    L.push(table(['input (tshark once)', 'tshark s', 'tshark MB/s', 'tshark peak RSS MiB', 'tshark ÷ smbtrail', 'tree connects tshark / smbtrail', 'CREATEs tshark / smbtrail', 'same frames and names'], withTs.map((inp) => {
      const r = R[inp.key];
      const x = r.tshark;
      const same = (d) => d.onlyA.length === 0 && d.onlyB.length === 0;
      const sameNames = (d) => d.namesOnlyA.length === 0 && d.namesOnlyB.length === 0;
      const verdict = same(x.diff.treeConnects) && same(x.diff.creates) ? 'yes'
        : sameNames(x.diff.treeConnects) && sameNames(x.diff.creates) ? 'names yes, frames differ' : 'NO (see below)';
      const mark = (a, b) => `${f0(a)} / ${f0(b)}${a === b ? '' : ' ≠'}`;
      return [r.label, f1(x.wall), f1(r.size / 1e6 / x.wall), f1(mib(x.rssKiB)), f1(x.wall / r.smbtrail.best) + '×',
        mark(x.treeConnects, x.smbtrailTreeConnects), mark(x.creates, x.smbtrailCreates), verdict];
    }), 'lrrrrrrl'));
    L.push('');
  }

  const pts = (x) => [...x.parts.map((p) => R[p.key]), { ...R[x.full], frac: 1 }];
  for (const x of series) {
    const sc = pts(x);
    const base = sc[0];
    const fx = fit(sc.map((r) => [r.size / 1e9, r.smbtrail.best]));
    x.fit = fx;
    L.push(table([`scaling: ${x.name}`, 'fraction', 'GB', 'smbtrail s', 's per GB', 'linear fit s', 'residual', 'peak RSS MiB', `RSS ÷ RSS at ${f2(base.frac)}`], sc.map((r) => {
      const gb = r.size / 1e9;
      const t = r.smbtrail.best;
      const pred = fx.a + fx.b * gb;
      return [r.label, f2(r.frac), f3(gb), f3(t), f3(t / gb), f3(pred), `${f1((100 * (t - pred)) / t)}%`, f1(mib(r.smbtrail.rssKiB)), f2(r.smbtrail.rssKiB / base.smbtrail.rssKiB)];
    })));
    L.push('', `Least-squares fit for ${x.name}: t = ${f3(fx.a)} s + ${f3(fx.b)} s per GB (fixed cost, including node startup ${f3(S)} s; ${fx.b > 0 ? `marginal speed ${f2(1 / fx.b)} GB/s` : 'slope ≤ 0: run-to-run noise is larger than the marginal cost'}).`, '');
  }

  // targets (issue 4)
  const tg = [];
  const gbps = (k) => (R[k] ? R[k].size / 1e9 / R[k].smbtrail.best : null);
  if (R.bulk) tg.push(['≥ 1 GB/s on the SMB3 bulk capture', `${f2(gbps('bulk'))} GB/s`, gbps('bulk') >= 1 ? 'met' : 'NOT met']);
  if (R.mixed) tg.push(['≥ 1 GB/s on the mixed variant', `${f2(gbps('mixed'))} GB/s`, gbps('mixed') >= 1 ? 'met' : 'NOT met']);
  const mk = R['meta-big'] ? 'meta-big' : R.meta ? 'meta' : null;
  if (mk) {
    const r = R[mk];
    const v = r.smbtrail.summary.smbMessages / r.smbtrail.best;
    tg.push([`≥ 200,000 SMB messages/s on the metadata-heavy capture (${r.label}, wall time incl. startup)`, f0(v), v >= 200000 ? 'met' : 'NOT met']);
  }
  const all = Object.values(R).filter((r) => r.smbtrail.rssKiB != null);
  if (all.length) {
    const worst = all.reduce((a, b) => (b.smbtrail.rssKiB > a.smbtrail.rssKiB ? b : a));
    tg.push(['peak RSS ≤ 150 MB whatever the capture size', `max ${f1(mib(worst.smbtrail.rssKiB))} MiB (${worst.label})`, worst.smbtrail.rssKiB * 1024 <= 150e6 ? 'met' : 'NOT met']);
  }
  for (const x of series) {
    const sc = pts(x);
    const lin = x.fit.maxRel <= 0.1 || x.fit.maxAbs <= 0.03;
    tg.push([`${x.name}: time grows linearly (largest residual of the linear fit ≤ 10% or ≤ 30 ms)`, `${f1(100 * x.fit.maxRel)}%, ${f0(1000 * x.fit.maxAbs)} ms`, lin ? 'met' : 'NOT met']);
    const grow = sc[sc.length - 1].smbtrail.rssKiB / sc[0].smbtrail.rssKiB;
    tg.push([`${x.name}: memory does not grow (peak RSS at 1 ÷ at ${f2(sc[0].frac)}; ≤ 1.15)`, f2(grow), grow <= 1.15 ? 'met' : 'NOT met']);
  }
  for (const b of batches) {
    const x = J[b.key];
    tg.push([`--jobs 2 ≥ 1.8× faster than --jobs 1 on 8+ captures (${b.label}, best of ${x.runs}; two independent processes on the halves: ${f2(x.pairSpeedup)}×)`, `${f2(x.speedup)}× (median ${f2(x.speedupMedian)}×)`, x.speedup >= 1.8 ? 'met' : 'NOT met']);
    tg.push([`--jobs 1 and --jobs 2 give the same bytes (${b.label})`, x.identical ? 'identical' : 'DIFFERENT', x.identical ? 'met' : 'NOT met']);
  }
  if (batches.length) {
    L.push(table(['batch (`--jobs`)', 'files', 'MB', 'events', '--jobs 1 s best (median)', '--jobs 2 s best (median)', 'speed-up best (median)', 'two processes s best (median)', 'their speed-up best (median)', 'speed-up per round', 'steal % j1 / j2', 'peak RSS MiB j1 / j2', 'CPUs idle before a round', 'output'], batches.map((b) => {
      const x = J[b.key];
      return [b.label, f0(b.files.length), f1(b.bytes / 1e6), f0(x.events), `${f3(x.j1.best)} (${f3(median(x.j1.times))})`, `${f3(x.j2.best)} (${f3(median(x.j2.times))})`,
        `${f2(x.speedup)}× (${f2(x.speedupMedian)}×)`, `${f3(x.pair.best)} (${f3(median(x.pair.times))})`, `${f2(x.pairSpeedup)}× (${f2(x.pairSpeedupMedian)}×)`,
        x.j1.times.map((t1, i) => `${f2(t1 / x.j2.times[i])}×`).join(', '), `${stealRange(x.j1.steals)} / ${stealRange(x.j2.steals)}`,
        `${f1(mib(x.j1.rssKiB))} / ${f1(mib(x.j2.rssKiB))}`, x.idle, x.identical ? 'identical' : 'DIFFERENT'];
    })));
    L.push('');
  }
  if (tg.length) { L.push(table(['target (issue 4)', 'measured', 'verdict'], tg, 'lrl')); L.push(''); }

  // mismatches
  const mm = [];
  for (const inp of withTs) {
    const x = R[inp.key].tshark;
    for (const [what, d] of [['tree connects', x.diff.treeConnects], ['CREATEs', x.diff.creates]]) {
      if (!d.onlyA.length && !d.onlyB.length) continue;
      const ex = (list) => list.slice(0, 5).map((s) => `\`${s.replace('\t', ' ')}\``).join(', ') + (list.length > 5 ? `, … (${list.length})` : '');
      mm.push(`- ${R[inp.key].label}, ${what}: ${d.onlyA.length} (frame, name) only in tshark${d.onlyA.length ? ` (${ex(d.onlyA)})` : ''}; ${d.onlyB.length} only in smbtrail${d.onlyB.length ? ` (${ex(d.onlyB)})` : ''}; by name alone: ${d.namesOnlyA.length} / ${d.namesOnlyB.length}. Full list: ${path.join(opts.workdir, 'out', inp.key + '.diff.txt')}`);
    }
    if (x.ambiguous) mm.push(`- ${R[inp.key].label}: ${x.ambiguous} tshark frame(s) where names could not be told apart per message (shown as \`?\`)`);
  }
  if (mm.length) L.push('Count check differences:', '', ...mm, '');

  L.push('Notes:', '');
  if (batches.length) L.push(`- Batches: \`node dist/cli/main.js scan DIR -f jsonl -q --jobs N -o OUT\`; each round runs --jobs 1, --jobs 2 and the two-process reference back to back (the order rotates), after waiting up to 60 s for both CPUs to be ≥ 95% idle for 1 s (other work on a shared machine steals the second core that --jobs 2 needs; "CPUs idle" is the range of idle shares measured before the rounds); speed-up = --jobs 1 ÷ --jobs 2 (best against best, median against median; "per round": the two runs of the same round, minutes apart at most). "Steal": the share of both CPUs' time the hypervisor gave to other guests during a run (/proc/stat), the VM's own noise — compare rounds with little of it. The outputs of every --jobs 1 and --jobs 2 run are compared byte for byte. \"Two processes\": the files dealt into two halves of about the same bytes, each scanned by its own \`--jobs 1\` process, both at once (wall time until both end; each has its own start-up and merge, of half the events) — what the two cores give with nothing shared at all, the reference for --jobs 2.`);
  L.push('- MB = 10^6 bytes of capture file, GB = 10^9; RSS in MiB (`/usr/bin/time -f %M`, the maximum over the runs). Wall time is measured by the parent (Node `hrtime` from spawn to exit) and includes node startup; smbtrail\'s stdout (JSONL events) goes to a file in the workdir, as with `-o`. Packets and SMB messages come from smbtrail\'s stderr summary (the run is therefore without `-q`; the summary costs nothing measurable).');
  L.push('- "steal % (runs)": the share of both CPUs\' time the hypervisor gave to other guests during each run (/proc/stat; min–max over the runs): with steal, the same work takes longer.');
  L.push('- "msgs/s excl. startup" = SMB messages ÷ (wall − startup). The physical reference is `cat FILE > /dev/null` with the file in the page cache (best of the same number of runs).');
  if (series.length) L.push('- Scaling: the first 1/4 and 1/2 of the bulk capture\'s packets (`editcap -r FILE OUT 1-N`) and 1/4 and 1/2 of the metadata copies; "linear" means the times fit t = a + b·size (a: fixed cost such as startup and warm-up, so s per GB falls with size), judged by the largest residual.');
  if (R['meta-big']) {
    const per = metaBig?.packetsPerCopy ?? Math.round(R['meta-big'].smbtrail.summary.packets / opts.metaCopies);
    L.push(`- The metadata capture is 2.5 MB, so its time is mostly node startup. The bigger one (${f1(R['meta-big'].size / 1e6)} MB) is ${opts.metaCopies} copies of it, generated by this script: copy k is shifted in time to start after copy k−1 ends and its client TCP port is rewritten (p → 1024 + (p − 1024 + 101k) mod 64512, TCP checksum updated incrementally), so it is ${opts.metaCopies} separate TCP connections one after another (${f0(per)} packets each), not the same flow repeated as \`mergecap -a\` would give. SMB session and tree ids repeat across copies, on different connections.`);
  }
  if (withTs.length) {
    L.push(`- Peer reference: \`tshark -r FILE -Y '${TSHARK_FILTER}' -T fields -e frame.number -e smb2.tree -e smb2.filename\`, run once, plus \`-E aggregator=\\x1f -e smb2.cmd -e smb2.flags.response\` (the same dissection; these only make the count exact). tshark's \`smb2.tree\` is also a generated field on every message with a known tree id, so counting its values would count every message of the matched frames; tree connects are counted as TREE_CONNECT requests (smb2.cmd 3, not a response) and CREATEs as CREATE requests (cmd 5), one per message even when one frame holds several (values, not lines). They are compared, with their frame numbers and names (share path; file name relative to the share), with smbtrail's \`tree_connect\` (share) and \`create\` (path) events.`);
  }
  return L.join('\n') + '\n';
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main().catch((e) => die(e.stack ?? String(e)));
