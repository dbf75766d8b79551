/**
 * Hostile floods for the memory bound of issue 4 ("peak RSS <= 150 MB whatever the capture"):
 * each writes a capture built from the tests' byte builders (test/helpers/build.ts), then runs
 * smbtrail on it under /usr/bin/time and reports the peak RSS, the time and the anomalies the
 * summary counted. Run through scripts/bench/floods.sh, which compiles this file first.
 *
 *   scripts/bench/floods.sh [--workdir DIR] [--only a,b] [--scale F] [--keep]
 *
 * Every flood is one shape an attacker (or a broken capture) can give in any amount; the sizes
 * are those README "Speed" quotes, `--scale` shrinks or grows them all.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  ACK, ACCESS, closeRequestBody, CMD, createRequestBody, createResponseBody, DISPOSITION, ETHERTYPE_IPV4, ethernet, FIN, fileId,
  IPPROTO_TCP, ipv4, nbss, PSH, req, resp, SHARE_TYPE, SYN, tcp, treeConnectRequestBody, treeConnectResponseBody,
  writeRequestBody, writeResponseBody,
} from '../../test/helpers/build';
import { NDR, rpcPdu, uuidBytes } from '../../test/rpc/wire';
import { treeConnect as smb1TreeConnect, treeConnectResponse as smb1TreeConnectResponse } from '../../test/events/smb1-helpers';
import { T0, writeHostileHits } from '../../test/helpers/hostile-hits';

/** the repository (floods.sh runs the compiled file from elsewhere) */
const ROOT = process.env.SMBTRAIL_ROOT ?? process.cwd();

/** a classic pcap written as it is built, frames 1 ms apart */
class PcapOut {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private usec = 0;
  frames = 0;
  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'w');
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(262144, 16);
    h.writeUInt32LE(1, 20);
    this.put(h);
  }
  private put(b: Buffer): void {
    if (this.used + b.length > this.buf.length) this.flush();
    if (b.length > this.buf.length) { fs.writeSync(this.fd, b); return; }
    b.copy(this.buf, this.used);
    this.used += b.length;
  }
  private flush(): void {
    for (let at = 0; at < this.used;) at += fs.writeSync(this.fd, this.buf, at, this.used - at);
    this.used = 0;
  }
  frame(data: Buffer): void {
    this.usec += 1000;
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1_700_000_000 + Math.floor(this.usec / 1e6), 0);
    r.writeUInt32LE(this.usec % 1e6, 4);
    r.writeUInt32LE(data.length, 8);
    r.writeUInt32LE(data.length, 12);
    this.put(r);
    this.put(data);
    this.frames++;
  }
  close(): number {
    this.flush();
    fs.closeSync(this.fd);
    return fs.statSync(this.file).size;
  }
}

/** one TCP connection of a flood: numbers its bytes, cuts them into segments */
class Conn {
  cseq = 1000;
  sseq = 50000;
  constructor(private readonly out: PcapOut, readonly client: string, readonly server: string, readonly port: number) {}
  packet(fromClient: boolean, flags: number, payload: Buffer = Buffer.alloc(0), seq?: number): void {
    const [src, dst, sp, dp] = fromClient ? [this.client, this.server, this.port, 445] : [this.server, this.client, 445, this.port];
    const s = seq ?? (fromClient ? this.cseq : this.sseq);
    const ack = fromClient ? this.sseq : this.cseq;
    this.out.frame(ethernet(ipv4(src, dst, IPPROTO_TCP, tcp(sp, dp, s, ack, flags, payload)), ETHERTYPE_IPV4));
    if (seq === undefined) {
      const adv = payload.length + (flags & (SYN | FIN) ? 1 : 0);
      if (fromClient) this.cseq = (this.cseq + adv) >>> 0; else this.sseq = (this.sseq + adv) >>> 0;
    }
  }
  handshake(): this {
    this.packet(true, SYN);
    this.packet(false, SYN | ACK);
    this.packet(true, ACK);
    return this;
  }
  /** a message in one NetBIOS frame, in segments of at most 1448 bytes */
  send(fromClient: boolean, msg: Buffer): void {
    const b = nbss(msg);
    for (let at = 0; at < b.length; at += 1448) this.packet(fromClient, ACK | PSH, b.subarray(at, Math.min(b.length, at + 1448)));
  }
  fin(): void {
    this.packet(true, FIN | ACK);
    this.packet(false, FIN | ACK);
    this.packet(true, ACK);
  }
}

/** the n-th client address: distinct for n < 2^22, never .0 */
const ip = (n: number): string => `10.${(n >> 14) & 255}.${(n >> 6) & 255}.${(n & 63) + 1}`;
const SERVER = '10.255.0.1';

/** a session and a tree on a connection, the start of most floods */
function logon(c: Conn, sid: bigint, share: string, shareType: number): number {
  let mid = 1;
  c.send(true, req({ command: CMD.TREE_CONNECT, messageId: mid, sessionId: sid }, treeConnectRequestBody(`\\\\srv\\${share}`)));
  c.send(false, resp({ command: CMD.TREE_CONNECT, messageId: mid++, sessionId: sid, treeId: 1 }, treeConnectResponseBody(shareType)));
  return mid;
}

function createReq(mid: number, sid: bigint, name: string): Buffer {
  return req({ command: CMD.CREATE, messageId: mid, sessionId: sid, treeId: 1 }, createRequestBody({ name, access: ACCESS.GENERIC_WRITE, disposition: DISPOSITION.CREATE }));
}
function createResp(mid: number, sid: bigint, id: number): Buffer {
  return resp({ command: CMD.CREATE, messageId: mid, sessionId: sid, treeId: 1 }, createResponseBody(fileId(id)));
}

const SVCCTL = '367abb81-9844-35f1-ad32-98f038001003';
function rpcBind(): Buffer {
  const b = Buffer.alloc(12 + 44);
  b.writeUInt16LE(4280, 0); b.writeUInt16LE(4280, 2);
  b[8] = 1; // one context
  uuidBytes(SVCCTL, true).copy(b, 16); b.writeUInt16LE(2, 32);
  b[14] = 1; // one transfer syntax
  uuidBytes(NDR, true).copy(b, 36); b.writeUInt32LE(2, 52);
  return rpcPdu(11, 1, b);
}
/** a request PDU; `pfcFlags` 0x03 is a whole call, 0x01 its first fragment, 0x00 a middle one */
function rpcRequest(callId: number, opnum: number, stub: Buffer, pfcFlags = 0x03): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(stub.length, 0);
  b.writeUInt16LE(opnum, 6);
  return rpcPdu(0, callId, Buffer.concat([b, stub]), pfcFlags);
}

/** `count` connections of one handshake and one CREATE each, never closed; addresses from `base` */
function oneMessageFile(file: string, count: number, base: number): string {
  const out = new PcapOut(file);
  for (let i = 0; i < count; i++) new Conn(out, ip(i + base), SERVER, 1024 + (i % 60000)).handshake().send(true, createReq(1, 1n, `f${i}.txt`));
  out.close();
  return file;
}

/** `count` connections, each logged on as session i + 1 with a disk share connected */
function loggedOn(out: PcapOut, count: number): Conn[] {
  const conns = Array.from({ length: count }, (_, i) => new Conn(out, ip(i), SERVER, 40000).handshake());
  conns.forEach((c, i) => logon(c, BigInt(i + 1), 'share', SHARE_TYPE.DISK));
  return conns;
}

/** `count` connections, each logged on as session i + 1 to IPC$ with the svcctl pipe open (file id 7) */
function loggedOnPipes(out: PcapOut, count: number): Conn[] {
  return Array.from({ length: count }, (_, i) => {
    const c = new Conn(out, ip(i), SERVER, 40000).handshake();
    const sid = BigInt(i + 1);
    const mid = logon(c, sid, 'IPC$', SHARE_TYPE.PIPE);
    c.send(true, req({ command: CMD.CREATE, messageId: mid, sessionId: sid, treeId: 1 }, createRequestBody({ name: 'svcctl', access: 0x0012019f, disposition: DISPOSITION.OPEN })));
    c.send(false, createResp(mid, sid, 7));
    return c;
  });
}

interface Flood {
  name: string; what: string; make(dir: string, k: (n: number) => number): string[];
  /** scan options besides the defaults, and the --jobs values to try (default: 1, and 2 for several files) */
  args?: string[]; jobs?: number[];
}

const FLOODS: Flood[] = [
  {
    name: 'syn', what: 'SYNs from distinct ports and addresses, nothing else (a port scan)',
    make(dir, k) {
      const out = new PcapOut(path.join(dir, 'syn.pcap'));
      for (let i = 0; i < k(200_000); i++) new Conn(out, ip(i), SERVER, 1024 + (i % 60000)).packet(true, SYN);
      out.close();
      return [out.file];
    },
  },
  {
    name: 'one-message', what: 'connections of one handshake and one CREATE each, never closed',
    make(dir, k) {
      return [oneMessageFile(path.join(dir, 'one-message.pcap'), k(200_000), 0)];
    },
  },
  {
    // the bounds hold per capture: two such files scanned side by side add up, which the
    // memory governor of --jobs 2 (src/scan/lanes.ts) is there to stop
    name: 'one-message-pair', what: 'two files of 200,000 one-CREATE connections each, scanned side by side',
    make(dir, k) {
      const sub = path.join(dir, 'one-message-pair');
      fs.mkdirSync(sub, { recursive: true });
      for (const n of [1, 2]) oneMessageFile(path.join(sub, `f${n}.pcap`), k(200_000), n * 1_000_000);
      return [sub];
    },
  },
  {
    name: 'unanswered', what: '1,000 connections x 1,000 CREATEs never answered',
    make(dir, k) {
      const out = new PcapOut(path.join(dir, 'unanswered.pcap'));
      const conns = loggedOn(out, k(1000));
      for (let m = 0; m < 1000; m++) conns.forEach((c, i) => c.send(true, createReq(2 + m, BigInt(i + 1), `dir\\file-${m}.bin`)));
      out.close();
      return [out.file];
    },
  },
  {
    name: 'open-handles', what: '1,000 sessions x 1,000 handles opened and never closed',
    make(dir, k) {
      const out = new PcapOut(path.join(dir, 'open-handles.pcap'));
      const conns = loggedOn(out, k(1000));
      for (let m = 0; m < 1000; m++) {
        conns.forEach((c, i) => {
          c.send(true, createReq(2 + m, BigInt(i + 1), `dir\\file-${m}.bin`));
          c.send(false, createResp(2 + m, BigInt(i + 1), m + 1));
        });
      }
      out.close();
      return [out.file];
    },
  },
  {
    name: 'trees', what: 'one session connecting 500,000 shares (distinct tree ids), never disconnecting',
    make(dir, k) {
      const out = new PcapOut(path.join(dir, 'trees.pcap'));
      const c = new Conn(out, ip(1), SERVER, 40000).handshake();
      for (let i = 0; i < k(500_000); i++) {
        c.send(true, req({ command: CMD.TREE_CONNECT, messageId: i + 1, sessionId: 1n }, treeConnectRequestBody(`\\\\srv\\share-${i}`)));
        c.send(false, resp({ command: CMD.TREE_CONNECT, messageId: i + 1, sessionId: 1n, treeId: i + 1 }, treeConnectResponseBody(SHARE_TYPE.DISK)));
      }
      out.close();
      return [out.file];
    },
  },
  {
    name: 'unknown-trees', what: 'one session sending 1,000,000 CREATEs, each on a tree id never connected',
    make(dir, k) {
      const out = new PcapOut(path.join(dir, 'unknown-trees.pcap'));
      const c = new Conn(out, ip(1), SERVER, 40000).handshake();
      for (let i = 0; i < k(1_000_000); i++) {
        c.send(true, req({ command: CMD.CREATE, messageId: i + 1, sessionId: 1n, treeId: i + 1 }, createRequestBody({ name: `f${i}`, access: ACCESS.GENERIC_WRITE, disposition: DISPOSITION.CREATE })));
        c.send(false, createResp(i + 1, 1n, i + 1));
      }
      out.close();
      return [out.file];
    },
  },
  {
    name: 'smb1-uids', what: 'SMB1: 20 connections each using all 65,535 UIDs, a tree connect on each (1.3 M sessions)',
    make(dir, k) {
      const out = new PcapOut(path.join(dir, 'smb1-uids.pcap'));
      for (let n = 0; n < k(20); n++) {
        const c = new Conn(out, ip(n), SERVER, 40000).handshake();
        for (let uid = 1; uid < 65536; uid++) {
          const h = { uid, mid: uid & 0xffff, tid: 0 };
          c.send(true, smb1TreeConnect(h, `\\\\srv\\s${uid}`));
          c.send(false, smb1TreeConnectResponse({ ...h, tid: 7 }, 'A:'));
        }
      }
      out.close();
      return [out.file];
    },
  },
  {
    name: 'out-of-order', what: '1,000 connections whose answers arrive last segment first (all held until the first)',
    make(dir, k) {
      const out = new PcapOut(path.join(dir, 'out-of-order.pcap'));
      const conns = loggedOn(out, k(1000));
      for (let round = 0; round < 10; round++) {
        conns.forEach((c, i) => {
          const sid = BigInt(i + 1);
          const answers: Buffer[] = [];
          for (let m = 0; m < 30; m++) {
            const mid = 2 + round * 30 + m;
            c.send(true, createReq(mid, sid, `dir\\r${round}-${m}.bin`));
            answers.push(nbss(createResp(mid, sid, mid)));
          }
          // the answers' bytes in 100-byte segments, sent from the last to the first
          const bytes = Buffer.concat(answers);
          const base = c.sseq;
          for (let at = Math.floor((bytes.length - 1) / 100) * 100; at >= 0; at -= 100) {
            c.packet(false, ACK | PSH, bytes.subarray(at, Math.min(bytes.length, at + 100)), (base + at) >>> 0);
          }
          c.sseq = (base + bytes.length) >>> 0;
        });
      }
      out.close();
      return [out.file];
    },
  },
  {
    name: 'unfinished', what: '300 connections each sending all but the last byte of a 1 MB IOCTL (under the 1 MiB kept whole)',
    make(dir, k) {
      const out = new PcapOut(path.join(dir, 'unfinished.pcap'));
      for (let i = 0; i < k(300); i++) {
        const c = new Conn(out, ip(i), SERVER, 40000).handshake();
        const input = 1_000_000;
        const body = Buffer.alloc(56 + input);
        body.writeUInt16LE(57, 0);
        body.writeUInt32LE(0x0011c017, 4); // FSCTL_PIPE_TRANSCEIVE
        body.writeUInt32LE(120, 24); body.writeUInt32LE(input, 28);
        const b = nbss(req({ command: CMD.IOCTL, messageId: 1, sessionId: 1n, treeId: 1 }, body));
        for (let at = 0; at < b.length - 1; at += 1448) c.packet(true, ACK, b.subarray(at, Math.min(b.length - 1, at + 1448)));
      }
      out.close();
      return [out.file];
    },
  },
  {
    name: 'rpc-calls', what: '80,000 DCE/RPC calls of 16 KB written to an svcctl pipe, never answered',
    make(dir, k) {
      const out = new PcapOut(path.join(dir, 'rpc-calls.pcap'));
      const [c] = loggedOnPipes(out, 1);
      let mid = 100;
      c.send(true, req({ command: CMD.WRITE, messageId: mid, sessionId: 1n, treeId: 1 }, writeRequestBody(fileId(7), rpcBind())));
      c.send(false, resp({ command: CMD.WRITE, messageId: mid++, sessionId: 1n, treeId: 1 }, writeResponseBody(72)));
      const stub = Buffer.alloc(16 << 10, 0x41);
      for (let i = 0; i < k(80_000); i++) {
        const pdu = rpcRequest(2 + i, 12, stub);
        c.send(true, req({ command: CMD.WRITE, messageId: mid, sessionId: 1n, treeId: 1 }, writeRequestBody(fileId(7), pdu)));
        c.send(false, resp({ command: CMD.WRITE, messageId: mid++, sessionId: 1n, treeId: 1 }, writeResponseBody(pdu.length)));
      }
      c.send(true, req({ command: CMD.CLOSE, messageId: mid, sessionId: 1n, treeId: 1 }, closeRequestBody(fileId(7))));
      c.fin();
      out.close();
      return [out.file];
    },
  },
  {
    name: 'rpc-unfinished', what: '100 connections each holding 4 DCE/RPC calls of 11 fragments of 60 KB on an svcctl pipe, never finished',
    make(dir, k) {
      const out = new PcapOut(path.join(dir, 'rpc-unfinished.pcap'));
      const stub = Buffer.alloc(60 << 10, 0x42);
      for (const [i, c] of loggedOnPipes(out, k(100)).entries()) {
        let mid = 100;
        const sid = BigInt(i + 1);
        const write = (pdu: Buffer): void => {
          c.send(true, req({ command: CMD.WRITE, messageId: mid, sessionId: sid, treeId: 1 }, writeRequestBody(fileId(7), pdu)));
          c.send(false, resp({ command: CMD.WRITE, messageId: mid++, sessionId: sid, treeId: 1 }, writeResponseBody(pdu.length)));
        };
        write(rpcBind());
        for (let call = 2; call < 6; call++) for (let f = 0; f < 11; f++) write(rpcRequest(call, 12, stub, f === 0 ? 0x01 : 0x00));
      }
      out.close();
      return [out.file];
    },
  },
  {
    name: 'smbexec-copies', what: '4 files of 7,500 copies of captures/08-smbexec-services.pcap (30,000 short connections, 15,000 rule hits each)',
    make(dir, k) {
      const files = [1, 2, 3, 4].map((n) => path.join(dir, 'smbexec', `f${n}.pcap`));
      fs.mkdirSync(path.join(dir, 'smbexec'), { recursive: true });
      for (const f of files) {
        const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/bench/copies.mjs'), path.join(ROOT, 'captures/08-smbexec-services.pcap'), f, String(k(7500))], { stdio: 'inherit' });
        if (r.status !== 0) throw new Error('copies.mjs failed');
      }
      return [path.join(dir, 'smbexec')];
    },
  },
  {
    name: 'stitched-hits', what: '20 rotated files of 100 CreateService calls with 30,000-character names, scanned with --stitch (up to 16 MiB of rule hits per file)',
    args: ['--stitch'], jobs: [1],
    make(dir, k) {
      const d = path.join(dir, 'stitched-hits');
      fs.mkdirSync(d, { recursive: true });
      for (let n = 0; n < k(20); n++) writeHostileHits(path.join(d, `rot-${String(n).padStart(3, '0')}.pcap`), 100, T0 + n * 3600, n);
      return [d];
    },
  },
];

function parseArgs(argv: string[]): { workdir: string; only: Set<string> | null; scale: number; keep: boolean } {
  const o = { workdir: '/tmp/smbtrail-floods', only: null as Set<string> | null, scale: 1, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--workdir') o.workdir = argv[++i];
    else if (a === '--only') o.only = new Set(argv[++i].split(','));
    else if (a === '--scale') o.scale = Number(argv[++i]);
    else if (a === '--keep') o.keep = true;
    else {
      console.error(`usage: scripts/bench/floods.sh [--workdir DIR] [--only ${FLOODS.map((f) => f.name).join(',')}] [--scale F] [--keep]`);
      process.exit(a === '--help' || a === '-h' ? 0 : 2);
    }
  }
  if (!(o.scale > 0)) { console.error('floods: --scale must be a positive number'); process.exit(2); }
  for (const n of o.only ?? []) if (!FLOODS.some((f) => f.name === n)) { console.error(`floods: no flood named ${n}`); process.exit(2); }
  return o;
}

function measure(inputs: string[], jobs: number, args: string[]): { kib: number; seconds: number; code: number | null; summary: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'PEAK %M', process.execPath, path.join(ROOT, 'dist/cli/main.js'), 'scan', ...inputs, '-f', 'jsonl', '-o', '/dev/null', '--jobs', String(jobs), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const m = /PEAK (\d+)/.exec(r.stderr ?? '');
  const lines = (r.stderr ?? '').split('\n');
  const pick = (re: RegExp): string => (lines.map((l) => l.trim()).find((l) => re.test(l)) ?? '');
  return { kib: m ? Number(m[1]) : NaN, seconds, code: r.status, summary: [pick(/^events /), pick(/^anomalies:/)].filter(Boolean).join('; ') };
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(ROOT, 'dist/cli/main.js'))) { console.error('floods: build first (npm run build)'); process.exit(2); }
  if (!fs.existsSync('/usr/bin/time')) { console.error('floods: /usr/bin/time is missing (apt-get install time)'); process.exit(2); }
  fs.mkdirSync(o.workdir, { recursive: true });
  const k = (n: number): number => Math.max(1, Math.round(n * o.scale));
  const rows: string[] = [];
  for (const f of FLOODS) {
    if (o.only && !o.only.has(f.name)) continue;
    console.error(`[floods] ${f.name}: generating`);
    const inputs = f.make(o.workdir, k);
    const files = inputs.flatMap((p) => (fs.statSync(p).isDirectory() ? fs.readdirSync(p).map((x) => path.join(p, x)) : [p]));
    const mb = files.reduce((s, p) => s + fs.statSync(p).size, 0) / 1e6;
    for (const jobs of f.jobs ?? (files.length > 1 ? [1, 2] : [1])) {
      console.error(`[floods] ${f.name}: scanning ${mb.toFixed(0)} MB with --jobs ${jobs} ${(f.args ?? []).join(' ')}`);
      const r = measure(inputs, jobs, f.args ?? []);
      const mib = r.kib / 1024;
      rows.push(`| ${f.name} | ${f.what} | ${mb.toFixed(0)} | ${jobs} | ${mib.toFixed(1)} (${(r.kib * 1024 / 1e6).toFixed(1)} MB) | ${r.kib * 1024 <= 150e6 ? 'yes' : '**no**'} | ${r.seconds.toFixed(1)} | ${r.code} | ${r.summary.replace(/\|/g, '\\|')} |`);
      console.error(rows[rows.length - 1]);
    }
    if (!o.keep) for (const p of inputs) fs.rmSync(p, { recursive: true, force: true });
  }
  console.log('| flood | what | MB | --jobs | peak RSS MiB (MB) | ≤ 150 MB | s | exit | summary |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
  console.log(`\nscripts/bench/floods.sh --scale ${o.scale}; node ${process.version}; ${new Date().toISOString()}; \`/usr/bin/time -f %M\` of \`smbtrail scan INPUT -f jsonl -o /dev/null --jobs N\``);
}

main();
