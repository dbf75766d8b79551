/**
 * Found in review of c233187..HEAD: the scan-wide stub budget (16 MiB, scan-capture.ts) has no
 * owner eviction. Five DCE/RPC/TCP connections that each send four unfinished ~1 MB requests and
 * then stay open (no FIN, no answer; a flow is never timed out), and one more holding a few small
 * unfinished calls to take what is left, hold the whole budget for the rest of the capture: an hour later, a CreateServiceW whose binary path runs %COMSPEC% on another
 * connection is reported with a null stub (rpc_stubs_budget_exceeded), so no binary_path, no
 * SVC-SHELL-COMMAND. Before the change each pipe had only its own 4 MiB bound. A one-sided
 * capture of many long-lived RPC connections fills it the same way without an attacker.
 * (REVIEW_HOLDERS=0 runs the same capture without the holders: the call is decoded and the test passes.)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { scanCapture } from '../../src/scan/scan-capture';
import type { SmbEvent } from '../../src/events/event';
import { ACK, ETHERTYPE_IPV4, ethernet, Frame, ipv4, pcapFile, PSH, SYN, tcp } from '../helpers/build';
import { NDR, uuidBytes } from './wire';
import { PFC_FIRST_FRAG, PFC_LAST_FRAG, PTYPE } from '../../src/rpc/pdu';
import { applyDetections } from '../../src/detect/detections';
import { applyFlagRules } from '../../src/detect/rules';

const HOLDERS = Number(process.env.REVIEW_HOLDERS ?? 5);
const SVCCTL = '367abb81-9844-35f1-ad32-98f038001003';
const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
function pdu(ptype: number, callId: number, body: Buffer, flags = PFC_FIRST_FRAG | PFC_LAST_FRAG): Buffer {
  const h = Buffer.alloc(16);
  h[0] = 5; h[2] = ptype; h[3] = flags; h[4] = 0x10;
  h.writeUInt16LE(16 + body.length, 8);
  h.writeUInt32LE(callId, 12);
  return Buffer.concat([h, body]);
}
const bind = (): Buffer => pdu(PTYPE.BIND, 1, Buffer.concat([u16(4280), u16(4280), u32(0), Buffer.from([1, 0, 0, 0]),
  u16(0), Buffer.from([1, 0]), uuidBytes(SVCCTL, true), u16(2), u16(0), uuidBytes(NDR, true), u16(2), u16(0)]));
const bindAck = (): Buffer => pdu(PTYPE.BIND_ACK, 1, Buffer.concat([u16(4280), u16(4280), u32(1), u16(0), Buffer.alloc(2), Buffer.from([1, 0, 0, 0]),
  u16(0), u16(0), uuidBytes(NDR, true), u16(2), u16(0)]));
const request = (id: number, opnum: number, stub: Buffer, flags?: number): Buffer => pdu(PTYPE.REQUEST, id, Buffer.concat([u32(stub.length), u16(0), u16(opnum), stub]), flags);
const response = (id: number, stub: Buffer): Buffer => pdu(PTYPE.RESPONSE, id, Buffer.concat([u32(stub.length), u16(0), Buffer.from([0, 0]), stub]));

/** NDR [string] wchar_t* */
function wstr(s: string): Buffer {
  const n = s.length + 1;
  const b = Buffer.concat([u32(n), u32(0), u32(n), Buffer.from(`${s}\0`, 'utf16le')]);
  return b.length % 4 ? Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]) : b;
}
/** CreateServiceW: hSCManager, ServiceName, [unique] DisplayName, access, type, start, error control, BinaryPathName, then null pointers */
function createService(name: string, bin: string): Buffer {
  return Buffer.concat([Buffer.alloc(20, 0x11), wstr(name), u32(0x20000), wstr(name), u32(0xf01ff), u32(0x10), u32(3), u32(0), wstr(bin),
    u32(0), u32(0), u32(0), u32(0), u32(0), u32(0), u32(0)]);
}

class Conn {
  cseq = 1000; sseq = 5000;
  constructor(private readonly frames: Frame[], readonly client: string, readonly cport: number, readonly server: string, readonly sport: number) {}
  private push(t: number, fromClient: boolean, flags: number, payload: Buffer = Buffer.alloc(0)): void {
    const [src, dst, sp, dp] = fromClient ? [this.client, this.server, this.cport, this.sport] : [this.server, this.client, this.sport, this.cport];
    const seq = fromClient ? this.cseq : this.sseq, ack = fromClient ? this.sseq : this.cseq;
    this.frames.push({ data: ethernet(ipv4(src, dst, 6, tcp(sp, dp, seq, ack, flags, payload)), ETHERTYPE_IPV4), sec: Math.floor(t), usec: Math.round((t % 1) * 1e6) });
    const adv = payload.length + (flags & SYN ? 1 : 0);
    if (fromClient) this.cseq += adv; else this.sseq += adv;
  }
  open(t: number): void { this.push(t, true, SYN); this.push(t, false, SYN | ACK); this.push(t, true, ACK); }
  c(t: number, b: Buffer): void { this.push(t, true, PSH | ACK, b); }
  s(t: number, b: Buffer): void { this.push(t, false, PSH | ACK, b); }
}

describe('shared stub budget (review of c233187..HEAD)', () => {
  it('connections that hold unfinished calls do not blind every later DCE/RPC call of the capture', async () => {
    const frames: Frame[] = [];
    const T0 = 1_700_000_000;
    for (let k = 0; k < HOLDERS; k++) {
      const h = new Conn(frames, `10.0.0.${50 + k}`, 50000 + k, '10.0.0.1', 49670);
      h.open(T0 + k);
      h.c(T0 + k, bind());
      h.s(T0 + k, bindAck());
      for (let call = 2; call <= 5; call++) {
        // 16 fragments of 65,000 bytes: 1,040,000 bytes, under maxStub (1 MiB); no last fragment
        for (let f = 0; f < 16; f++) h.c(T0 + k + 0.01 * f, request(call, 12, Buffer.alloc(65_000, 0x42), f === 0 ? PFC_FIRST_FRAG : 0));
      }
    }
    // what the budget has left is taken by calls of one unfinished fragment each, halving in size
    const filler = new Conn(frames, '10.0.0.60', 50100, '10.0.0.1', 49670);
    filler.open(T0 + 10);
    filler.c(T0 + 10, bind());
    filler.s(T0 + 10, bindAck());
    let id = 2;
    for (let size = 32_768; size >= 4; size >>= 1) for (let rep = 0; rep < 4; rep++) filler.c(T0 + 10, request(id++, 12, Buffer.alloc(size, 0x43), PFC_FIRST_FRAG));
    // an hour later, another client creates a service that runs cmd
    const v = new Conn(frames, '10.0.0.9', 51000, '10.0.0.1', 49671);
    const T1 = T0 + 3600;
    v.open(T1);
    v.c(T1, bind());
    v.s(T1, bindAck());
    v.c(T1 + 0.1, request(2, 12, createService('upd', '%COMSPEC% /Q /c whoami > C:\\x.txt')));
    v.s(T1 + 0.2, response(2, Buffer.concat([u32(0), Buffer.alloc(20, 0x22), u32(0)])));
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-review-')), 'blind.pcap');
    fs.writeFileSync(file, pcapFile(frames));
    const events: SmbEvent[] = [];
    const summary = await scanCapture(file, 'blind.pcap', (r) => { events.push(r.ev); });
    fs.rmSync(path.dirname(file), { recursive: true });
    const create = events.find((e) => e.src_ip === '10.0.0.9' && e.rpc_operation === 'CreateServiceW');
    expect(create, JSON.stringify(summary.anomalies)).toBeDefined();
    const e = applyDetections(applyFlagRules(create as SmbEvent));
    expect(e.rpc_args?.binary_path).toBe('%COMSPEC% /Q /c whoami > C:\\x.txt');
    expect(e.rules).toContain('SVC-SHELL-COMMAND');
  }, 60_000);
});
