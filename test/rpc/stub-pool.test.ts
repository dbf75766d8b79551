/**
 * Stub buffers reused between calls (rpc/stub-pool.ts) must change no call: five pipes sharing
 * the pool, with lost fragments, packet privacy, FAULTs and restarted responses, give the same
 * calls as without reuse, and the pool never hands out a buffer twice (found in review).
 */
import { describe, expect, it } from 'vitest';
import { PFC_FIRST_FRAG, PFC_LAST_FRAG, PTYPE } from '../../src/rpc/pdu';
import { RpcPipe } from '../../src/rpc/pipe';
import type { RpcCall } from '../../src/rpc/types';
import { NDR, rpcPdu, uuidBytes } from '../rpc/wire';

const pdu = (ptype: number, callId: number, body: Buffer, flags = PFC_FIRST_FRAG | PFC_LAST_FRAG, authLevel?: number): Buffer => rpcPdu(ptype, callId, body, flags, authLevel);
const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
const SVCCTL = '367abb81-9844-35f1-ad32-98f038001003';
const bind = (): Buffer => pdu(PTYPE.BIND, 1, Buffer.concat([u16(4280), u16(4280), u32(0), Buffer.from([1, 0, 0, 0]),
  u16(0), Buffer.from([1, 0]), uuidBytes(SVCCTL, true), u16(2), u16(0), uuidBytes(NDR, true), u16(2), u16(0)]));
const ack = (): Buffer => pdu(PTYPE.BIND_ACK, 1, Buffer.concat([u16(4280), u16(4280), u32(1), u16(0), Buffer.alloc(2), Buffer.from([1, 0, 0, 0]),
  u16(0), u16(0), uuidBytes(NDR, true), u16(2), u16(0)]));
const req = (id: number, stub: Buffer, flags: number, auth?: number): Buffer => pdu(PTYPE.REQUEST, id, Buffer.concat([u32(stub.length), u16(0), u16(12), stub]), flags, auth);
const resp = (id: number, stub: Buffer, flags: number): Buffer => pdu(PTYPE.RESPONSE, id, Buffer.concat([u32(stub.length), u16(0), Buffer.from([0, 0]), stub]), flags);
const fault = (id: number): Buffer => pdu(PTYPE.FAULT, id, Buffer.concat([u32(0), u16(0), Buffer.from([0, 0]), u32(0x1c010002), u32(0)]));

/** a small deterministic PRNG */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

type Script = ['c' | 's', Buffer][];

function script(seed: number): Script {
  const r = rng(seed);
  const out: Script = [['c', bind()], ['s', ack()]];
  const open: number[] = [];
  for (let step = 0; step < 400; step++) {
    const x = r();
    const id = 1 + Math.floor(r() * 40);
    const stub = Buffer.from(Array.from({ length: Math.floor(r() ** 3 * 20000) }, () => Math.floor(r() * 256)));
    const cut = 1 + Math.floor(r() * 6000);
    const frags = (make: (s: Buffer, f: number) => Buffer): Buffer[] => {
      const fs: Buffer[] = [];
      if (stub.length === 0) return [make(stub, PFC_FIRST_FRAG | PFC_LAST_FRAG)];
      for (let i = 0; i < stub.length; i += cut) fs.push(make(stub.subarray(i, i + cut), (i === 0 ? PFC_FIRST_FRAG : 0) | (i + cut >= stub.length ? PFC_LAST_FRAG : 0)));
      // sometimes a fragment is lost, or the LAST flag never comes
      if (fs.length > 2 && r() < 0.1) fs.splice(1, 1);
      if (r() < 0.05) fs.pop();
      return fs;
    };
    if (x < 0.35) { for (const f of frags((s, fl) => req(id, s, fl, r() < 0.05 ? 6 : undefined))) out.push(['c', f]); open.push(id); }
    else if (x < 0.7) { for (const f of frags((s, fl) => resp(id, s, fl))) out.push(['s', f]); }
    else if (x < 0.8) out.push(['s', fault(id)]);
    else if (x < 0.9) {
      // a response restarted: a FIRST fragment again in the middle
      const a = frags((s, fl) => resp(id, s, fl & ~PFC_LAST_FRAG));
      if (a.length > 0) out.push(['s', a[0]]);
      for (const f of frags((s, fl) => resp(id, s, fl))) out.push(['s', f]);
    } else out.push(['s', resp(id, stub.subarray(0, 100), PFC_LAST_FRAG)]);
  }
  return out;
}

interface Seen { callId: number; request: string | null; response: string | null; status: number | null; fault: boolean }

function play(s: Script[], reuse: boolean): { calls: Seen[][]; buffered: number[] } {
  const calls: Seen[][] = s.map(() => []);
  const pipes = s.map((_, k) => new RpcPipe<number>({
    onCall: (c: RpcCall<number>) => calls[k].push({ callId: c.callId, request: c.request && c.request.toString('hex'), response: c.response && c.response.toString('hex'), status: c.status, fault: c.fault }),
    anomaly: () => undefined,
  }, { reuseStubs: reuse, maxBuffered: 256 << 10, maxCalls: 16 }));
  // the scripts' PDUs interleaved, so that the pipes share the pool
  const longest = Math.max(...s.map((x) => x.length));
  for (let i = 0; i < longest; i++) {
    s.forEach((sc, k) => {
      if (i >= sc.length) return;
      const [dir, b] = sc[i];
      if (dir === 'c') pipes[k].clientData(b, 0, b.length, i); else pipes[k].serverData(b, 0, b.length, i);
    });
  }
  const buffered = pipes.map((p) => p.bufferedBytes);
  pipes.forEach((p) => p.close());
  for (const p of pipes) expect(p.bufferedBytes).toBe(0);
  return { calls, buffered };
}

describe('stub reuse', () => {
  it('gives every call the same stubs with and without reuse, and the pool never holds a buffer twice', async () => {
    const scripts = [1, 2, 3, 4, 5].map(script);
    const a = play(scripts, false);
    const b = play(scripts, true);
    expect(b.calls).toEqual(a.calls);
    expect(b.buffered).toEqual(a.buffered);
    expect(a.calls.flat().length).toBeGreaterThan(500);
    const { takeStubBuffer } = await import('../../src/rpc/stub-pool');
    const seen = new Map<ArrayBufferLike, Set<number>>();
    for (let size = 256; size <= 1 << 20; size *= 2) {
      for (let i = 0; i < (8 << 20) / size + 1; i++) {
        const t = takeStubBuffer(size);
        const set = seen.get(t.buffer) ?? new Set<number>();
        expect(set.has(t.byteOffset)).toBe(false);
        set.add(t.byteOffset);
        seen.set(t.buffer, set);
      }
    }
  });

  it('keeps the stubs that fitted the pipe budget before (power-of-two classes count up to twice the bytes)', () => {
    // a one-sided capture (requests only): 100 requests of 33,000 bytes wait for answers that never come
    const calls: RpcCall<number>[] = [];
    const anomalies: string[] = [];
    const p = new RpcPipe<number>({ onCall: (c) => calls.push({ ...c, request: c.request && Buffer.from(c.request) }), anomaly: (k) => anomalies.push(k) });
    p.clientData(bind(), 0, Infinity, 0);
    p.serverData(ack(), 0, Infinity, 0);
    for (let id = 10; id < 110; id++) { const b = req(id, Buffer.alloc(33_000, id), PFC_FIRST_FRAG | PFC_LAST_FRAG); p.clientData(b, 0, b.length, id); }
    p.close();
    expect(calls).toHaveLength(100);
    expect(anomalies.filter((k) => k === 'rpc_stub_too_large')).toEqual([]);
    expect(calls.filter((c) => c.request === null).length).toBe(0);
  });
});
