/**
 * SmbFramer: NetBIOS framing, SMB signature checks and resynchronisation, fed hand-built byte
 * streams in every chunking, with gaps, garbage and hostile lengths.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_MESSAGE, PEEK, SmbFramer } from '../../src/smb/framer';
import {
  CMD, createRequestBody, DISPOSITION, fileId, nbss, NBSS_KEEPALIVE, req, smallBody, writeRequestBody,
} from '../helpers/build';
import { MessageRecorder, pkt } from '../helpers/record';

const echo = (mid: number): Buffer => req({ command: CMD.ECHO, messageId: mid }, smallBody());
const create = (mid: number, name: string): Buffer =>
  req({ command: CMD.CREATE, messageId: mid, treeId: 1 }, createRequestBody({ name, access: 0x80, disposition: DISPOSITION.OPEN }));
const write = (mid: number, n: number): Buffer =>
  req({ command: CMD.WRITE, messageId: mid, treeId: 1 }, writeRequestBody(fileId(1), Buffer.alloc(n, 0x77)));

/** feeds `chunks` as frames 1, 2, 3… */
function feed(f: SmbFramer, chunks: Buffer[]): void {
  chunks.forEach((c, i) => f.data(c, 0, c.length, pkt(i + 1)));
}
/** feeds chunks from inside a larger buffer (offsets must be honoured) */
function feedAt(f: SmbFramer, chunk: Buffer, frame: number): void {
  const big = Buffer.concat([Buffer.alloc(3, 0xaa), chunk, Buffer.alloc(5, 0xbb)]);
  f.data(big, 3, chunk.length, pkt(frame));
}

const M1 = echo(1), M2 = create(2, 'dir\\file.txt'), M3 = echo(3);
const STREAM = Buffer.concat([nbss(M1), nbss(M2), nbss(M3)]);
const ENDS = [4 + M1.length, 8 + M1.length + M2.length, STREAM.length];

describe('SmbFramer: chunking', () => {
  it('several messages in one chunk are all cut, whole', () => {
    const r = new MessageRecorder();
    feed(new SmbFramer(r, true), [STREAM]);
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M2, M3]);
    expect(r.messages.map((m) => [m.msgLen, m.frame])).toEqual([[68, 1], [M2.length, 1], [68, 1]]);
    expect(r.anomalies).toEqual({});
  });

  it('a split at every byte boundary gives the same messages, each dated by the chunk completing it', () => {
    for (let k = 1; k < STREAM.length; k++) {
      const r = new MessageRecorder();
      const f = new SmbFramer(r, true);
      feedAt(f, STREAM.subarray(0, k), 1);
      feedAt(f, STREAM.subarray(k), 2);
      expect(r.messages.map((m) => m.bytes), `split at ${k}`).toEqual([M1, M2, M3]);
      expect(r.messages.map((m) => m.frame), `split at ${k}`).toEqual(ENDS.map((e) => (e <= k ? 1 : 2)));
      expect(r.anomalies, `split at ${k}`).toEqual({});
    }
  });

  it('in step, a split into three chunks at every pair of boundaries 5 bytes apart gives the same messages', () => {
    for (let i = 1; i + 5 < STREAM.length; i++) {
      const j = i + 5;
      const r = new MessageRecorder();
      const f = new SmbFramer(r, true);
      f.data(nbss(M3), 0, M3.length + 4, pkt(1)); // in step from here
      feed(f, [STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)]);
      expect(r.messages.slice(1).map((m) => m.bytes), `split at ${i},${j}`).toEqual([M1, M2, M3]);
      expect(r.messages.slice(1).map((m) => m.frame)).toEqual(ENDS.map((e) => (e <= i ? 1 : e <= j ? 2 : 3)));
      expect(r.anomalies).toEqual({});
    }
  });

  // BUG (src/smb/framer.ts SmbFramer.onResync): while searching for a signature, only the tail
  // of the latest chunk is carried over (the previous carry is dropped when it did not match),
  // so a NetBIOS header + magic (8 bytes) spread over three or more chunks is never found. At
  // the start of a stream or after a gap, tiny segments make the framer miss messages.
  it('not yet in step, a header spread over three chunks is found', () => {
    const r = new MessageRecorder();
    feed(new SmbFramer(r, true), [STREAM.subarray(0, 2), STREAM.subarray(2, 6), STREAM.subarray(6)]);
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M2, M3]);
  });

  it('one byte per chunk once in step (after a first message) gives the same messages', () => {
    const r = new MessageRecorder();
    const f = new SmbFramer(r, true);
    f.data(nbss(M1), 0, M1.length + 4, pkt(1));
    const rest = Buffer.concat([nbss(M2), nbss(M3)]);
    for (let i = 0; i < rest.length; i++) f.data(rest, i, 1, pkt(100 + i));
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M2, M3]);
    expect(r.messages.map((m) => m.frame)).toEqual([1, 100 + M2.length + 3, 100 + rest.length - 1]);
  });

  // BUG: same as above (onResync carry), one byte per chunk
  it('one byte per chunk from the very start still finds the first message', () => {
    const r = new MessageRecorder();
    const f = new SmbFramer(r, true);
    for (let i = 0; i < STREAM.length; i++) f.data(STREAM, i, 1, pkt(i + 1));
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M2, M3]);
    expect(r.messages.map((m) => m.frame)).toEqual(ENDS);
  });

  it('keep() sees the first min(PEEK, msgLen) bytes; what it declines is counted, not kept', () => {
    const w = write(7, 5000);
    const keepWrite = (_b: Buffer, _o: number, _h: number, m: number): number => Math.min(m, 64 + 48);
    for (const sizes of [[w.length + 4], [30, 100, 2000]]) {
      const r = new MessageRecorder(keepWrite);
      const chunks: Buffer[] = [];
      const s = nbss(w);
      let off = 0;
      for (const n of sizes) { chunks.push(s.subarray(off, off + n)); off += n; }
      if (off < s.length) chunks.push(s.subarray(off));
      feed(new SmbFramer(r, true), chunks);
      expect(r.keepCalls).toEqual([[PEEK, w.length]]);
      expect(r.messages).toHaveLength(1);
      expect(r.messages[0].msgLen).toBe(5112);
      expect(r.messages[0].frame).toBe(chunks.length);
      // at least the 112 bytes asked for (the slow path may keep up to PEEK), never the payload
      expect(r.messages[0].bytes.length).toBeGreaterThanOrEqual(112);
      expect(r.messages[0].bytes.length).toBeLessThanOrEqual(PEEK);
      expect(r.messages[0].bytes.subarray(0, 112)).toEqual(w.subarray(0, 112));
    }
  });

  it('a message shorter than PEEK is offered whole to keep()', () => {
    const r = new MessageRecorder();
    feed(new SmbFramer(r, true), [nbss(M1).subarray(0, 10), nbss(M1).subarray(10)]);
    expect(r.keepCalls).toEqual([[68, 68]]);
  });
});

describe('SmbFramer: NetBIOS session messages', () => {
  it('keep-alives (0x85) between and before messages are skipped silently', () => {
    const r = new MessageRecorder();
    const ka = nbss(Buffer.alloc(0), NBSS_KEEPALIVE);
    feed(new SmbFramer(r, true), [Buffer.concat([nbss(M1), ka, ka, nbss(M3)])]);
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M3]);
    expect(r.anomalies).toEqual({});
  });

  it('a session request (0x81) with its called/calling names is skipped, even split', () => {
    const names = Buffer.alloc(68, 0x43);
    const s = Buffer.concat([nbss(M1), nbss(names, 0x81), nbss(Buffer.alloc(0), 0x82), nbss(M3)]);
    const r = new MessageRecorder();
    feed(new SmbFramer(r, true), [s.subarray(0, 80), s.subarray(80, 100), s.subarray(100)]);
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M3]);
    expect(r.anomalies).toEqual({});
  });

  it('a zero-length session message is nothing', () => {
    const r = new MessageRecorder();
    feed(new SmbFramer(r, true), [Buffer.concat([nbss(M1), nbss(Buffer.alloc(0)), nbss(M3)])]);
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M3]);
  });
});

describe('SmbFramer: resynchronisation', () => {
  it('garbage before the first message (capture started mid-stream) is skipped without anomalies', () => {
    const r = new MessageRecorder();
    const tail = Buffer.from(M2.subarray(30)); // the end of a message whose start was not captured
    feed(new SmbFramer(r, true), [Buffer.concat([tail, nbss(M1)]), nbss(M3)]);
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M3]);
    expect(r.anomalies).toEqual({});
  });

  it('garbage between messages: resync finds the next one and the skipped bytes are counted', () => {
    const r = new MessageRecorder();
    const garbage = Buffer.from('garbage!!!', 'latin1');
    feed(new SmbFramer(r, true), [Buffer.concat([nbss(M1), garbage, nbss(M2), nbss(M3)])]);
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M2, M3]);
    expect(r.anomalies.netbios_desync).toBe(1);
    expect(r.anomalies.resync).toBe(1);
  });

  // BUG (src/smb/framer.ts SmbFramer.onHeader/onResync): the 4 bytes read as a bad NetBIOS
  // header before resynchronising are not added to resync_skipped_bytes (6 reported for 10).
  it('resync_skipped_bytes counts every garbage byte', () => {
    const r = new MessageRecorder();
    const garbage = Buffer.from('garbage!!!', 'latin1');
    feed(new SmbFramer(r, true), [Buffer.concat([nbss(M1), garbage, nbss(M2)])]);
    expect(r.anomalies.resync_skipped_bytes).toBe(10);
  });

  it('a NetBIOS message that is not SMB is skipped via resync (not_smb_message)', () => {
    const r = new MessageRecorder();
    const notSmb = nbss(Buffer.from('\x00HTTP/1.1 200 OK\r\n\r\n' + 'x'.repeat(60), 'latin1'));
    feed(new SmbFramer(r, true), [Buffer.concat([nbss(M1), notSmb, nbss(M3)])]);
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M3]);
    expect(r.anomalies.not_smb_message).toBe(1);
    expect(r.anomalies.resync).toBe(1);
  });

  it('an SMB2 magic with a length below the 64-byte header is not a message', () => {
    const r = new MessageRecorder();
    const short = nbss(M1.subarray(0, 20));
    feed(new SmbFramer(r, true), [Buffer.concat([nbss(M1), short, nbss(M3)])]);
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M3]);
    expect(r.anomalies.not_smb_message).toBe(1);
  });

  // BUG (src/smb/framer.ts SmbFramer.onMessage): when a bogus header's message does not fit in
  // the chunk, its first PEEK bytes are copied into the accumulator and, once the magic check
  // fails, resynchronisation starts after them: a real message starting inside those bytes is
  // lost. The fast path (whole message in the chunk) rescans them, so the result depends on
  // TCP segmentation.
  it('a bogus header (type 0, plausible length) does not swallow the next message', () => {
    const r = new MessageRecorder();
    const bogus = Buffer.from([0x00, 0x00, 0x10, 0x00]); // claims 4096 bytes
    feed(new SmbFramer(r, true), [Buffer.concat([nbss(M1), bogus, nbss(M2), nbss(M3)])]);
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M2, M3]);
  });

  it('a gap inside a WRITE payload still yields the WRITE, and the next message follows in step', () => {
    const w = write(9, 3000);
    const s = nbss(w);
    const r = new MessageRecorder((_b, _o, _h, m) => Math.min(m, 112));
    const f = new SmbFramer(r, true);
    f.data(s, 0, 400, pkt(1));
    f.gap(1000); // payload bytes 400..1400 never captured
    f.data(s, 1400, s.length - 1400, pkt(3));
    f.data(nbss(M3), 0, M3.length + 4, pkt(4));
    expect(r.messages.map((m) => [m.msgLen, m.frame])).toEqual([[w.length, 3], [68, 4]]);
    expect(r.messages[0].bytes.subarray(0, 112)).toEqual(w.subarray(0, 112));
    expect(r.anomalies).toEqual({ gap_in_skipped_payload: 1 });
  });

  // BUG (src/smb/framer.ts SmbFramer.gap): a gap that ends exactly where the skipped payload
  // ends (consumed + bytes === msgLen) is treated as losing the message; the test is `<`
  // where `<=` is meant, after which the message is complete and the framer is in step.
  it('a gap covering exactly the rest of a WRITE payload still yields the WRITE', () => {
    const w = write(9, 3000);
    const s = nbss(w);
    const r = new MessageRecorder((_b, _o, _h, m) => Math.min(m, 112));
    const f = new SmbFramer(r, true);
    f.data(s, 0, 400, pkt(1));
    f.gap(s.length - 400);
    f.data(nbss(M3), 0, M3.length + 4, pkt(3));
    expect(r.messages.map((m) => m.msgLen)).toEqual([w.length, 68]);
    expect(r.anomalies.message_lost_in_gap).toBeUndefined();
  });

  it('a gap in bytes that were to be kept loses that message; resync finds the next', () => {
    const r = new MessageRecorder();
    const f = new SmbFramer(r, true);
    const s2 = nbss(M2);
    f.data(nbss(M1), 0, M1.length + 4, pkt(1));
    f.data(s2, 0, 50, pkt(2));
    f.gap(30);
    f.data(s2, 80, s2.length - 80, pkt(3));
    f.data(nbss(M3), 0, M3.length + 4, pkt(4));
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M3]);
    expect(r.anomalies.message_lost_in_gap).toBe(1);
    expect(r.anomalies.resync).toBe(1);
  });

  it('a gap in the middle of a NetBIOS header resynchronises on the next message', () => {
    const r = new MessageRecorder();
    const f = new SmbFramer(r, true);
    const s2 = nbss(M2);
    f.data(Buffer.concat([nbss(M1), s2.subarray(0, 2)]), 0, M1.length + 6, pkt(1));
    f.gap(10);
    f.data(Buffer.concat([s2.subarray(12), nbss(M3)]), 0, s2.length - 12 + M3.length + 4, pkt(2));
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M3]);
    expect(r.messages[1].frame).toBe(2);
    expect(r.anomalies.resync).toBe(1);
    expect(r.anomalies.message_lost_in_gap).toBeUndefined();
  });

  it('a signature straddling two chunks after a gap is found', () => {
    const r = new MessageRecorder();
    const f = new SmbFramer(r, true);
    f.data(nbss(M1), 0, M1.length + 4, pkt(1));
    f.gap(100);
    const s = Buffer.concat([Buffer.from('junkjunk'), nbss(M3)]);
    f.data(s, 0, 8 + 6, pkt(2)); // cut inside "\xfeSMB"
    f.data(s, 14, s.length - 14, pkt(3));
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M3]);
    expect(r.messages.map((m) => m.frame)).toEqual([1, 3]);
    expect(r.anomalies.resync).toBe(1);
  });
});

describe('SmbFramer: not SMB, hostile lengths', () => {
  const noise = (n: number): Buffer => Buffer.alloc(n, 'A');

  it('a non-SMB stream on a non-SMB port is given up after the 256 KiB scan budget', () => {
    const r = new MessageRecorder();
    const f = new SmbFramer(r, false);
    for (let i = 0; i < 4; i++) f.data(noise(64 << 10), 0, 64 << 10, pkt(i + 1));
    expect(r.notSmbCalls).toBe(0); // exactly 256 KiB scanned: not yet
    f.data(noise(100), 0, 100, pkt(5));
    expect(r.notSmbCalls).toBe(1);
    expect(r.messages).toEqual([]);
    expect(r.anomalies).toEqual({}); // never synchronised: nothing to resync from
  });

  it('on port 445/139 a non-SMB stream is never given up', () => {
    const r = new MessageRecorder();
    const f = new SmbFramer(r, true);
    for (let i = 0; i < 8; i++) f.data(noise(64 << 10), 0, 64 << 10, pkt(i + 1));
    expect(r.notSmbCalls).toBe(0);
  });

  it('a stream that carried SMB is not given up on a non-SMB port', () => {
    const r = new MessageRecorder();
    const f = new SmbFramer(r, false);
    f.data(nbss(M1), 0, M1.length + 4, pkt(1));
    for (let i = 0; i < 6; i++) f.data(noise(64 << 10), 0, 64 << 10, pkt(i + 2));
    expect(r.notSmbCalls).toBe(0);
    expect(r.messages).toHaveLength(1);
  });

  it('SMB on a non-SMB port is found', () => {
    const r = new MessageRecorder();
    feed(new SmbFramer(r, false), [STREAM]);
    expect(r.messages).toHaveLength(3);
  });

  it('a NetBIOS type outside the session service set is a desync', () => {
    const r = new MessageRecorder();
    feed(new SmbFramer(r, true), [Buffer.concat([nbss(M1), Buffer.from([0x42, 0, 0, 8]), Buffer.alloc(8), nbss(M3)])]);
    expect(r.messages.map((m) => m.bytes)).toEqual([M1, M3]);
    expect(r.anomalies.netbios_desync).toBe(1);
  });

  describe('the largest declared length', () => {
    afterEach(() => vi.restoreAllMocks());

    it('16 MiB - 1 (the 24-bit maximum) is within MAX_MESSAGE; nothing near that size is allocated', () => {
      expect(MAX_MESSAGE).toBe(16 << 20);
      const first = nbss(M1), huge = Buffer.concat([Buffer.from([0x00, 0xff, 0xff, 0xff]), M3]), mib = noise(1 << 20);
      const sizes: number[] = [];
      const alloc = Buffer.alloc, unsafe = Buffer.allocUnsafe;
      vi.spyOn(Buffer, 'alloc').mockImplementation(((n: number, ...rest: unknown[]) => { sizes.push(n); return (alloc as (...a: unknown[]) => Buffer)(n, ...rest); }) as typeof Buffer.alloc);
      vi.spyOn(Buffer, 'allocUnsafe').mockImplementation(((n: number) => { sizes.push(n); return unsafe(n); }) as typeof Buffer.allocUnsafe);
      const r = new MessageRecorder((_b, _o, h) => h); // keep only the peeked head
      const f = new SmbFramer(r, true);
      f.data(first, 0, first.length, pkt(1));
      f.data(huge, 0, huge.length, pkt(2)); // 0xffffff declared, an SMB2 header follows
      for (let i = 0; i < 8; i++) f.data(mib, 0, mib.length, pkt(3 + i)); // 8 MiB more: still inside
      expect(Math.max(0, ...sizes)).toBeLessThan(1 << 20);
      expect(r.messages).toHaveLength(1);
    });

    it('a 16 MiB - 1 header without an SMB magic resynchronises after PEEK bytes, allocating nothing big', () => {
      const first = nbss(M1), s = Buffer.concat([Buffer.from([0x00, 0xff, 0xff, 0xff]), noise(PEEK), nbss(M3)]);
      const sizes: number[] = [];
      const unsafe = Buffer.allocUnsafe;
      vi.spyOn(Buffer, 'allocUnsafe').mockImplementation(((n: number) => { sizes.push(n); return unsafe(n); }) as typeof Buffer.allocUnsafe);
      const r = new MessageRecorder();
      const f = new SmbFramer(r, true);
      f.data(first, 0, first.length, pkt(1));
      f.data(s, 0, s.length, pkt(2));
      expect(r.messages.map((m) => m.bytes)).toEqual([M1, M3]);
      expect(r.anomalies.not_smb_message).toBe(1);
      expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(PEEK);
    });
  });
});

describe('SmbFramer: bytes kept by all framers together (KeptBudget)', () => {
  // two CREATEs with 600-character names (> 1,200 bytes each), each arriving in two chunks
  const A = create(10, 'a'.repeat(600)), B = create(11, 'b'.repeat(600));
  const half = (m: Buffer): [Buffer, Buffer] => { const s = nbss(m); return [s.subarray(0, 300), s.subarray(300)]; };

  it('a message that would pass the budget is decoded from its first PEEK bytes; the budget comes back when messages end', () => {
    const budget = { limit: A.length + 100, used: 0 };
    const ra = new MessageRecorder(), rb = new MessageRecorder();
    const fa = new SmbFramer(ra, true, budget), fb = new SmbFramer(rb, true, budget);
    const [a1, a2] = half(A), [b1, b2] = half(B);
    fa.data(a1, 0, a1.length, pkt(1));
    expect(budget.used).toBe(A.length);
    fb.data(b1, 0, b1.length, pkt(2)); // both unfinished at once: B does not fit
    expect(rb.anomalies).toEqual({ kept_bytes_budget_exceeded: 1 });
    fa.data(a2, 0, a2.length, pkt(3));
    fb.data(b2, 0, b2.length, pkt(4));
    expect(ra.messages.map((m) => m.bytes)).toEqual([A]);
    expect(rb.messages.map((m) => [m.msgLen, m.bytes.length])).toEqual([[B.length, PEEK]]);
    expect(rb.messages[0].bytes).toEqual(B.subarray(0, PEEK));
    expect(budget.used).toBe(0);
    // now B fits again
    const [c1, c2] = half(B);
    fb.data(c1, 0, c1.length, pkt(5));
    fb.data(c2, 0, c2.length, pkt(6));
    expect(rb.messages[1].bytes).toEqual(B);
  });

  it('a message cut by a gap or by the end of its stream gives its bytes back', () => {
    const budget = { limit: 1 << 20, used: 0 };
    const f = new SmbFramer(new MessageRecorder(), true, budget);
    const [a1] = half(A);
    f.data(a1, 0, a1.length, pkt(1));
    expect(budget.used).toBe(A.length);
    f.gap(1000);
    expect(budget.used).toBe(0);
    f.data(a1, 0, a1.length, pkt(2)); // resynchronises on the header, holds again
    expect(budget.used).toBe(A.length);
    f.end();
    expect(budget.used).toBe(0);
  });
});
