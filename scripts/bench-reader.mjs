#!/usr/bin/env node
// Capture reader measurement for the README design notes: one run, same files, page cache warm.
//
//   node scripts/bench-reader.mjs [--size-mb 1024] [--source ../shared/corpus/...pcap] [--runs 3] [--gzip] [--keep]
//
// Builds a ~1 GB pcap and pcapng in /tmp by repeating the packets of a real SMB2 capture, then
// times, each in a fresh child process (best of --runs):
//   cat FILE > /dev/null        the physical reference
//   fs.readSync loop            raw read of the file into one reused buffer, no parsing
//   smbtrail readCapture        our reader iterating packets (several chunk sizes)
//   smbtrail sync loop          our parser fed by fs.readSync (the alternative to async reads)
//   pcap-parser                 the npm package iterating packets
//   (--gzip) readCapture on `gzip -1` of the pcap, against `gzip -dc FILE > /dev/null`
// and shows what pcap-parser does with pcapng and nanosecond pcap.
import { spawnSync, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(os.tmpdir(), 'smbtrail-bench-reader');
const JS = path.join(WORK, 'js');
const require = createRequire(import.meta.url);

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

/** Compiles src/capture alone, so the bench works whatever state the rest of src/ is in. */
function compile() {
  const files = fs.readdirSync(path.join(ROOT, 'src/capture')).filter((f) => f.endsWith('.ts')).map((f) => path.join(ROOT, 'src/capture', f));
  const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
  const r = spawnSync(tsc, ['--outDir', JS, '--rootDir', path.join(ROOT, 'src'), '--module', 'commonjs', '--target', 'ES2022', '--strict', '--esModuleInterop', '--skipLibCheck', '--types', 'node', ...files], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('tsc failed');
  return require(path.join(JS, 'capture/reader.js'));
}

// ---------- child: one measurement, printed as JSON ----------

async function child(mode, file, chunk) {
  let packets = 0;
  let bytes = 0;
  let touch = 0;
  const sink = {
    packet(p) {
      packets++;
      bytes += p.capLen;
      touch ^= p.data[p.off + 12]; // read a byte of each packet, as the Ethernet decoder will
    },
  };
  const t0 = process.hrtime.bigint();
  if (mode === 'raw') {
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.allocUnsafe(chunk);
    for (let n; (n = fs.readSync(fd, buf, 0, chunk, null)) > 0; ) bytes += n;
    fs.closeSync(fd);
  } else if (mode === 'ours') {
    const { readCapture } = require(path.join(JS, 'capture/reader.js'));
    await readCapture(file, sink, { chunkSize: chunk });
  } else if (mode === 'ours-sync') {
    const { createCaptureParser } = require(path.join(JS, 'capture/reader.js'));
    const parser = createCaptureParser(sink);
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.allocUnsafe(chunk);
    for (let n; (n = fs.readSync(fd, buf, 0, chunk, null)) > 0; ) if (!parser.push(buf.subarray(0, n))) break;
    fs.closeSync(fd);
    parser.end();
  } else if (mode === 'pcap-parser') {
    const pcapp = require(path.join(ROOT, 'node_modules/pcap-parser'));
    await new Promise((resolve, reject) => {
      const parser = pcapp.parse(file);
      parser.on('packet', (pkt) => {
        packets++;
        bytes += pkt.header.capturedLength;
        touch ^= pkt.data[12];
      });
      parser.on('error', reject);
      parser.on('end', resolve);
    });
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(JSON.stringify({ ms, packets, bytes, touch, maxRssKb: process.resourceUsage().maxRSS }));
}

// ---------- parent ----------

function runChild(mode, file, chunk) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, file, String(chunk)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function timeCat(file) {
  const t0 = process.hrtime.bigint();
  execFileSync('sh', ['-c', `cat "${file}" > /dev/null`]);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, packets: NaN, maxRssKb: NaN };
}

function best(runs, fn) {
  let b = null;
  for (let i = 0; i < runs; i++) {
    const r = fn();
    if (b === null || r.ms < b.ms) b = r;
  }
  return b;
}

/** Writes `sizeMb` of records by repeating the source packets with advancing timestamps. */
function buildInputs(reader, source, sizeMb) {
  const pkts = [];
  reader.parseCaptureBuffer(fs.readFileSync(source), {
    packet(p) {
      pkts.push({ sec: p.tsSec, ns: p.tsNs, orig: p.origLen, data: Buffer.from(p.data.subarray(p.off, p.off + p.capLen)), lt: p.linkType });
    },
  });
  const span = pkts[pkts.length - 1].sec - pkts[0].sec + 1;
  const pcapPath = path.join(WORK, `bulk-${sizeMb}.pcap`);
  const ngPath = path.join(WORK, `bulk-${sizeMb}.pcapng`);
  const target = sizeMb * 1024 * 1024;
  if (!fs.existsSync(pcapPath) || fs.statSync(pcapPath).size < target) writeRepeated(pcapPath, pkts, span, target, 'pcap');
  if (!fs.existsSync(ngPath) || fs.statSync(ngPath).size < target) writeRepeated(ngPath, pkts, span, target, 'pcapng');
  return { pcapPath, ngPath, sourcePackets: pkts.length };
}

function writeRepeated(file, pkts, span, target, format) {
  const fd = fs.openSync(file, 'w');
  const lt = pkts[0].lt;
  if (format === 'pcap') {
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(262144, 16);
    h.writeUInt32LE(lt, 20);
    fs.writeSync(fd, h);
  } else {
    const shb = Buffer.alloc(28);
    shb.writeUInt32LE(0x0a0d0d0a, 0);
    shb.writeUInt32LE(28, 4);
    shb.writeUInt32LE(0x1a2b3c4d, 8);
    shb.writeUInt16LE(1, 12);
    shb.writeBigInt64LE(-1n, 16);
    shb.writeUInt32LE(28, 24);
    const idb = Buffer.alloc(20);
    idb.writeUInt32LE(1, 0);
    idb.writeUInt32LE(20, 4);
    idb.writeUInt16LE(lt, 8);
    idb.writeUInt32LE(262144, 12);
    idb.writeUInt32LE(20, 16);
    fs.writeSync(fd, Buffer.concat([shb, idb]));
  }
  let written = 0;
  const out = Buffer.allocUnsafe(8 << 20);
  let used = 0;
  for (let rep = 0; written < target; rep++) {
    for (const p of pkts) {
      const need = 32 + p.data.length + 4;
      if (used + need > out.length) {
        fs.writeSync(fd, out, 0, used);
        used = 0;
      }
      const sec = p.sec + rep * span;
      if (format === 'pcap') {
        out.writeUInt32LE(sec, used);
        out.writeUInt32LE(Math.floor(p.ns / 1000), used + 4);
        out.writeUInt32LE(p.data.length, used + 8);
        out.writeUInt32LE(p.orig, used + 12);
        p.data.copy(out, used + 16);
        used += 16 + p.data.length;
        written += 16 + p.data.length;
      } else {
        const padded = (p.data.length + 3) & ~3;
        const len = 32 + padded;
        const ticks = BigInt(sec) * 1000000n + BigInt(Math.floor(p.ns / 1000));
        out.writeUInt32LE(6, used);
        out.writeUInt32LE(len, used + 4);
        out.writeUInt32LE(0, used + 8);
        out.writeUInt32LE(Number(ticks >> 32n), used + 12);
        out.writeUInt32LE(Number(ticks & 0xffffffffn), used + 16);
        out.writeUInt32LE(p.data.length, used + 20);
        out.writeUInt32LE(p.orig, used + 24);
        p.data.copy(out, used + 28);
        out.fill(0, used + 28 + p.data.length, used + 28 + padded);
        out.writeUInt32LE(len, used + 28 + padded);
        used += len;
        written += len;
      }
    }
  }
  fs.writeSync(fd, out, 0, used);
  fs.closeSync(fd);
}

/** What pcap-parser says about formats it does not read. */
async function pcapParserOn(file) {
  const pcapp = require(path.join(ROOT, 'node_modules/pcap-parser'));
  return new Promise((resolve) => {
    let n = 0;
    const parser = pcapp.parse(file);
    parser.on('packet', () => n++);
    parser.on('error', (e) => resolve(`error: ${e.message} (${n} packets)`));
    parser.on('end', () => resolve(`${n} packets`));
  });
}

async function main() {
  const sizeMb = Number(arg('size-mb', '1024'));
  const runs = Number(arg('runs', '3'));
  const source = path.resolve(ROOT, arg('source', '../shared/corpus/suricata-verify/smb2-async-read__input.pcap'));
  fs.mkdirSync(WORK, { recursive: true });
  const reader = compile();
  const { pcapPath, ngPath, sourcePackets } = buildInputs(reader, source, sizeMb);

  const rows = [];
  const row = (label, file, r, ref) => {
    const mb = fs.statSync(file.replace(/\.gz$/, '')).size / 1e6; // MB/s of capture data, decompressed
    rows.push({
      method: label,
      file: path.basename(file),
      seconds: (r.ms / 1000).toFixed(3),
      'MB/s': Math.round(mb / (r.ms / 1000)),
      'Mpkt/s': Number.isNaN(r.packets) ? '' : (r.packets / (r.ms / 1000) / 1e6).toFixed(2),
      packets: Number.isNaN(r.packets) ? '' : r.packets,
      'x cat': ref ? (r.ms / ref.ms).toFixed(2) : '1.00',
      'maxRSS MB': Number.isNaN(r.maxRssKb) ? '' : Math.round(r.maxRssKb / 1024),
    });
  };

  for (const file of [pcapPath, ngPath]) {
    execFileSync('sh', ['-c', `cat "${file}" > /dev/null`]); // warm the page cache
    const cat = best(runs, () => timeCat(file));
    row('cat FILE > /dev/null', file, cat, null);
    row('fs.readSync loop, 4 MiB, no parse', file, best(runs, () => runChild('raw', file, 4 << 20)), cat);
    for (const chunk of [1 << 20, 4 << 20, 8 << 20]) {
      row(`smbtrail readCapture, ${chunk >> 20} MiB chunks`, file, best(runs, () => runChild('ours', file, chunk)), cat);
    }
    row('smbtrail parser + fs.readSync, 4 MiB', file, best(runs, () => runChild('ours-sync', file, 4 << 20)), cat);
    if (file === pcapPath) row('pcap-parser 0.2.1', file, best(runs, () => runChild('pcap-parser', file, 0)), cat);
  }
  const gzPath = `${pcapPath}.gz`;
  if (process.argv.includes('--gzip')) {
    if (!fs.existsSync(gzPath)) execFileSync('sh', ['-c', `gzip -1 -c "${pcapPath}" > "${gzPath}"`]);
    const cat = best(runs, () => timeCat(gzPath));
    row('cat FILE > /dev/null', gzPath, cat, null);
    const t0 = process.hrtime.bigint();
    execFileSync('sh', ['-c', `gzip -dc "${gzPath}" > /dev/null`]);
    row('gzip -dc FILE > /dev/null', gzPath, { ms: Number(process.hrtime.bigint() - t0) / 1e6, packets: NaN, maxRssKb: NaN }, cat);
    row('smbtrail readCapture (gunzip stream)', gzPath, best(runs, () => runChild('ours', gzPath, 4 << 20)), cat);
  }

  console.log(`\nnode ${process.version}, ${os.cpus()[0].model}, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}`);
  console.log(`input: ${sourcePackets} packets of ${path.relative(ROOT, source)} repeated to ${sizeMb} MiB; best of ${runs}\n`);
  console.table(rows);

  // pcap-parser on what it cannot read
  const small = path.join(ROOT, '../shared/corpus/jasonlue-pcap/smb-on-windows-10.pcapng');
  const nsFile = path.join(WORK, 'ns.pcap');
  if (fs.existsSync('/usr/bin/editcap')) execFileSync('/usr/bin/editcap', ['-F', 'nsecpcap', source, nsFile]);
  for (const f of [small, nsFile]) {
    if (!fs.existsSync(f)) continue;
    let ours;
    try {
      ours = `${reader.parseCaptureBuffer(fs.readFileSync(f), { packet() {} }).packets} packets`;
    } catch (e) {
      ours = `error: ${e.message}`;
    }
    console.log(`${path.basename(f)}: pcap-parser → ${await pcapParserOn(f)}; smbtrail → ${ours}`);
  }
  if (!process.argv.includes('--keep')) {
    for (const f of [pcapPath, ngPath, nsFile, gzPath]) fs.rmSync(f, { force: true });
  }
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4], Number(process.argv[5]));
} else {
  await main();
}
