#!/usr/bin/env node
// node scripts/bench/copies.mjs SRC.pcap DST.pcap K
//
// K copies of a capture one after another, each its own TCP connection: the bench's big metadata
// capture (K copies of captures/10-many-small-files.pcap) and the hostile floods of README
// "Speed" are made with it, for example the CreateService flood: four files of
// `copies.mjs captures/08-smbexec-services.pcap F K` with K = 7,500 (30,000 CreateService calls each).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * K copies of a classic pcap (Ethernet, IPv4/TCP), copy k shifted by k x (duration rounded up + 1 s)
 * and with the non-445 port of every TCP segment mapped to another port (TCP checksum updated
 * incrementally, RFC 1624), so that each copy is a separate TCP connection later in time.
 */
export function makeCopies(src, dst, copies) {
  const buf = fs.readFileSync(src);
  const magic = buf.readUInt32LE(0);
  let le;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`${src}: not a classic pcap file`);
  const r32 = (b, o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const w32 = (b, o, v) => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  if ((r32(buf, 20) & 0x0fffffff) !== 1) throw new Error(`${src}: link type is not Ethernet`);
  const recs = [];
  for (let o = 24; o + 16 <= buf.length;) {
    const incl = r32(buf, o + 8);
    if (o + 16 + incl > buf.length) break;
    recs.push(o);
    o += 16 + incl;
  }
  const first = r32(buf, recs[0]);
  const last = r32(buf, recs[recs.length - 1]);
  const shift = last - first + 2; // whole seconds: only ts_sec changes
  const fold = (s) => { s = (s & 0xffff) + (s >>> 16); return (s & 0xffff) + (s >>> 16); };
  const csumUpdate = (hc, m, m2) => ~fold((~hc & 0xffff) + (~m & 0xffff) + m2) & 0xffff;
  const mapPort = (p, k) => (p < 1024 ? p : 1024 + ((p - 1024 + k * 101) % 64512));
  const fd = fs.openSync(dst + '.tmp', 'w');
  fs.writeSync(fd, buf, 0, 24);
  for (let k = 0; k < copies; k++) {
    const out = Buffer.from(buf.subarray(24, recs.length ? buf.length : 24));
    for (const r of recs) {
      const o = r - 24;
      w32(out, o, r32(out, o) + k * shift);
      if (k === 0) continue;
      const caplen = r32(out, o + 8);
      const p = o + 16;
      let l2 = 14;
      let et = caplen >= 14 ? out.readUInt16BE(p + 12) : 0;
      if (et === 0x8100 && caplen >= 18) { et = out.readUInt16BE(p + 16); l2 = 18; }
      if (et !== 0x0800 || caplen < l2 + 20) continue;
      const ip = p + l2;
      const ihl = (out[ip] & 0x0f) * 4;
      if (out[ip + 9] !== 6 || (out.readUInt16BE(ip + 6) & 0x1fff) !== 0) continue;
      const tcp = ip + ihl;
      if (tcp + 18 > p + caplen) continue;
      const sp = out.readUInt16BE(tcp);
      const dp = out.readUInt16BE(tcp + 2);
      const at = sp === 445 || sp === 139 ? tcp + 2 : dp === 445 || dp === 139 ? tcp : -1;
      if (at < 0) continue;
      const old = out.readUInt16BE(at);
      const nu = mapPort(old, k);
      out.writeUInt16BE(nu, at);
      const hc = out.readUInt16BE(tcp + 16);
      if (hc !== 0) out.writeUInt16BE(csumUpdate(hc, old, nu), tcp + 16);
    }
    fs.writeSync(fd, out);
  }
  fs.closeSync(fd);
  fs.renameSync(dst + '.tmp', dst);
  return { packetsPerCopy: recs.length, shiftSeconds: shift };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [src, dst, k] = process.argv.slice(2);
  const n = Number(k);
  if (!src || !dst || !Number.isInteger(n) || n < 1) {
    console.error('usage: node scripts/bench/copies.mjs SRC.pcap DST.pcap K   (K >= 1 copies)');
    process.exit(2);
  }
  try {
    const r = makeCopies(src, dst, n);
    console.error(`${dst}: ${n} copies of ${r.packetsPerCopy} packets, ${r.shiftSeconds} s apart`);
  } catch (e) {
    console.error(`copies: ${e.message}`);
    process.exit(1);
  }
}
