/**
 * Found in review of c233187..HEAD (checks of the shared DCE/RPC stub budget `held`).
 * The accounting itself: random traffic through many pipes, every path (answer, fault, packet
 * privacy, a second first fragment, call-id reuse, maxCalls eviction, maxStub, maxBuffered, the
 * budget itself, close) — `held.used` equals the pipes' own bufferedBytes at every step and is 0
 * after close.
 */
import { describe, expect, it } from 'vitest';
import { PFC_FIRST_FRAG, PFC_LAST_FRAG, PTYPE } from '../../src/rpc/pdu';
import { heldStubs, RpcPipe } from '../../src/rpc/pipe';
import { rpcPdu } from './wire';

const pdu = (ptype: number, callId: number, body: Buffer, flags: number, authLevel?: number): Buffer => rpcPdu(ptype, callId, body, flags, authLevel);
const head = (n: number, a: number, b: number): Buffer => { const x = Buffer.alloc(8); x.writeUInt32LE(n, 0); x.writeUInt16LE(a, 4); x.writeUInt16LE(b, 6); return x; };
const request = (id: number, stub: Buffer, flags: number, auth?: number): Buffer => pdu(PTYPE.REQUEST, id, Buffer.concat([head(stub.length, 0, 1), stub]), flags, auth);
const response = (id: number, stub: Buffer, flags: number, auth?: number): Buffer => pdu(PTYPE.RESPONSE, id, Buffer.concat([head(stub.length, 0, 0), stub]), flags, auth);
const fault = (id: number): Buffer => pdu(PTYPE.FAULT, id, Buffer.concat([head(0, 0, 0), Buffer.from([5, 0, 0, 0, 0, 0, 0, 0])]), PFC_FIRST_FRAG | PFC_LAST_FRAG);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

describe('shared stub budget accounting (review of c233187..HEAD)', () => {
  it('random calls through many pipes: held.used = Σ bufferedBytes at every step, 0 after close', () => {
    for (const reuseStubs of [true, false]) {
      const held = heldStubs(2 << 20);
      const kinds: Record<string, number> = {};
      const r = rng(reuseStubs ? 7 : 11);
      const pipes = Array.from({ length: 40 }, () => new RpcPipe<number>({ onCall() {}, anomaly(k) { kinds[k] = (kinds[k] ?? 0) + 1; } },
        { held, reuseStubs, maxCalls: 8, maxStub: 96 << 10, maxBuffered: 160 << 10 }));
      const sum = (): number => pipes.reduce((a, p) => a + p.bufferedBytes, 0);
      for (let i = 0; i < 40_000; i++) {
        const p = pipes[Math.floor(r() * pipes.length)];
        const id = 1 + Math.floor(r() * 12);
        const size = Math.floor(r() ** 3 * 65_000);
        const x = r();
        const flags = (r() < 0.5 ? PFC_FIRST_FRAG : 0) | (r() < 0.4 ? PFC_LAST_FRAG : 0);
        const auth = r() < 0.03 ? 6 : undefined;
        const b = x < 0.55 ? request(id, Buffer.alloc(size, 1), flags, auth)
          : x < 0.95 ? response(id, Buffer.alloc(size, 2), flags, auth) : fault(id);
        if (b.length > 0xffff) continue;
        if (x < 0.55) p.clientData(b, 0, b.length, i); else p.serverData(b, 0, b.length, i);
        if (held.used !== sum() || held.used < 0 || held.used > held.limit) throw new Error(`step ${i}: used ${held.used}, pipes hold ${sum()}`);
      }
      for (const p of pipes) p.close();
      expect(held.used).toBe(0);
      // every bound was reached
      expect(Object.keys(kinds)).toEqual(expect.arrayContaining(['rpc_stubs_budget_exceeded', 'rpc_stub_too_large', 'rpc_calls_evicted', 'rpc_fragment_without_first']));
    }
  });
});
