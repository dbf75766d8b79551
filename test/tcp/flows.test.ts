/**
 * FlowTable: TCP connections from decoded packets. Roles, SYN-less flows, FIN/RST, port reuse,
 * ACK-driven gap detection and eviction, on packets built byte by byte and decoded for real.
 */
import { describe, expect, it } from 'vitest';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { Packet } from '../../src/capture/packet';
import { createDecoder } from '../../src/net/decode';
import { Flow, FlowHandler, FlowTable, FlowTableLimits } from '../../src/tcp/flows';
import { ACK, FIN, IPPROTO_TCP, ipv4, ipv6, LINKTYPE, PSH, RST, SYN, tcp } from '../helpers/build';
import { packetOf, StreamRecorder } from '../helpers/record';

interface Opened { flow: Flow; ab: StreamRecorder; ba: StreamRecorder; closed: boolean }

function setup(limits?: FlowTableLimits, onOpen?: (f: Flow) => void) {
  const opened: Opened[] = [];
  const handler: FlowHandler = {
    open(flow) {
      const o: Opened = { flow, ab: new StreamRecorder(), ba: new StreamRecorder(), closed: false };
      opened.push(o);
      onOpen?.(flow);
      return [o.ab, o.ba];
    },
    close(flow) {
      const o = opened.find((x) => x.flow === flow);
      if (o) o.closed = true;
    },
  };
  const table = new FlowTable(handler, limits);
  const decoder = createDecoder();
  let frame = 0;
  let last: Packet | null = null;
  /** one packet src:sport → dst:dport */
  const send = (src: string, sport: number, dst: string, dport: number, seq: number, ack: number, flags: number, text = ''): number => {
    const seg = tcp(sport, dport, seq, ack, flags, Buffer.from(text, 'latin1'));
    const ip = src.includes(':') ? ipv6(src, dst, IPPROTO_TCP, seg) : ipv4(src, dst, IPPROTO_TCP, seg);
    const p = packetOf(LINKTYPE.RAW, ip, ++frame);
    if (!decoder.decode(p)) throw new Error(`not decoded: ${decoder.result.skip}`);
    table.segment(decoder.result.seg, p);
    last = p;
    return frame;
  };
  const finish = (): void => { if (last) table.finish(last); };
  return { table, opened, send, finish };
}

const C = '10.1.1.1', S = '10.1.1.2';

describe('FlowTable', () => {
  it('a handshake names the client; both directions are reassembled from their ISNs', () => {
    const { opened, send, table } = setup();
    send(C, 40000, S, 7000, 100, 0, SYN);
    send(S, 7000, C, 40000, 900, 101, SYN | ACK);
    send(C, 40000, S, 7000, 101, 901, ACK);
    send(C, 40000, S, 7000, 101, 901, ACK | PSH, 'req');
    send(S, 7000, C, 40000, 901, 104, ACK | PSH, 'resp');
    expect(opened).toHaveLength(1);
    const { flow, ab, ba } = opened[0];
    expect(flow.a).toEqual({ ip: C, port: 40000 });
    expect(flow.b).toEqual({ ip: S, port: 7000 });
    expect(flow.clientIsA).toBe(true);
    expect(flow.firstFrame).toBe(1);
    expect(ab.items).toEqual([{ data: 'req', frame: 4 }]);
    expect(ba.items).toEqual([{ data: 'resp', frame: 5 }]);
    expect(table.size).toBe(1);
  });

  it('a SYN+ACK seen first makes its sender the server', () => {
    const { opened, send } = setup();
    send(S, 7000, C, 40000, 900, 101, SYN | ACK);
    expect(opened[0].flow.a).toEqual({ ip: S, port: 7000 });
    expect(opened[0].flow.clientIsA).toBe(false);
  });

  it('a SYN-less (midstream) flow starts at its first data; the 445 side is the server', () => {
    const { opened, send } = setup();
    send(S, 445, C, 50123, 7777, 3333, ACK | PSH, 'from-server');
    send(C, 50123, S, 445, 3333, 7788, ACK | PSH, 'from-client');
    const { flow, ab, ba } = opened[0];
    expect(flow.a.port).toBe(445);
    expect(flow.clientIsA).toBe(false);
    expect(ab.text()).toBe('from-server');
    expect(ba.text()).toBe('from-client');
  });

  it('a midstream flow between two unknown ports leaves the roles open', () => {
    const { opened, send } = setup();
    send(C, 6000, S, 7000, 1, 1, ACK, 'x');
    expect(opened[0].flow.clientIsA).toBeNull();
  });

  it('stray ACKs and FINs of unknown flows create nothing', () => {
    const { opened, send, table } = setup();
    send(C, 40000, S, 445, 5, 5, ACK);
    send(C, 40000, S, 445, 5, 5, FIN | ACK);
    expect(opened).toHaveLength(0);
    expect(table.size).toBe(0);
  });

  it('IPv6 flows are keyed and named by their addresses', () => {
    const { opened, send } = setup();
    send('2001:db8::1', 40000, '2001:db8::2', 445, 1, 0, SYN);
    expect(opened[0].flow.a.ip).toBe('2001:db8::1');
    expect(opened[0].flow.b.ip).toBe('2001:db8::2');
  });

  it('data carried on the SYN starts one after the ISN', () => {
    const { opened, send } = setup();
    send(C, 40000, S, 445, 100, 0, SYN, 'tfo');
    send(C, 40000, S, 445, 104, 0, ACK, 'more');
    expect(opened[0].ab.text()).toBe('tfomore');
  });

  it('FIN from both sides ends the flow; held data is flushed across its hole', () => {
    const { opened, send, table } = setup();
    send(C, 40000, S, 445, 100, 0, SYN);
    send(S, 445, C, 40000, 900, 101, SYN | ACK);
    send(C, 40000, S, 445, 101, 901, ACK, 'ab');
    send(C, 40000, S, 445, 105, 901, ACK, 'ef'); // 'cd' never seen
    send(C, 40000, S, 445, 107, 901, FIN | ACK);
    expect(opened[0].closed).toBe(false);
    send(S, 445, C, 40000, 901, 103, FIN | ACK); // the server never acknowledged the hole
    expect(opened[0].closed).toBe(true);
    expect(opened[0].ab.text()).toBe('ab[gap 2]ef');
    expect(table.size).toBe(0);
    expect(table.stats).toMatchObject({ gaps: 1, gapBytes: 2, flows: 1 });
  });

  it('the receiver acknowledging a hole turns it into a gap as soon as data follows', () => {
    const { opened, send, table } = setup();
    send(C, 40000, S, 445, 100, 0, SYN);
    send(S, 445, C, 40000, 900, 101, SYN | ACK);
    send(C, 40000, S, 445, 101, 901, ACK, 'aaaa');
    send(S, 445, C, 40000, 901, 109, ACK); // acks 'bbbb' at 105 that the capture missed
    send(C, 40000, S, 445, 109, 901, ACK, 'cccc');
    expect(opened[0].ab.items).toEqual([{ data: 'aaaa', frame: 3 }, { gap: 4 }, { data: 'cccc', frame: 5 }]);
    expect(table.stats).toMatchObject({ gaps: 1, gapBytes: 4 });
  });

  // Regression (fixed in 0f82dfc): lost segment, captured next segment, the receiver's
  // cumulative ACK, then more data: the held segment was skipped over and lost.
  it('lost segment, held segment, ACK, next segment: the held segment is delivered', () => {
    const { opened, send } = setup();
    send(C, 40000, S, 445, 100, 0, SYN);
    send(S, 445, C, 40000, 900, 101, SYN | ACK);
    send(C, 40000, S, 445, 101, 901, ACK, 'aaaa');
    // 'bbbb' at 105 lost by the capture
    send(C, 40000, S, 445, 109, 901, ACK, 'cccc');
    send(S, 445, C, 40000, 901, 113, ACK);
    send(C, 40000, S, 445, 113, 901, ACK, 'dddd');
    expect(opened[0].ab.text()).toBe('aaaa[gap 4]ccccdddd');
  });

  it('an RST ends the flow at once (held data flushed), and later data opens a new flow', () => {
    const { opened, send, table } = setup();
    send(C, 40000, S, 445, 100, 0, SYN);
    send(C, 40000, S, 445, 101, 0, ACK, 'ab');
    send(C, 40000, S, 445, 105, 0, ACK, 'ef');
    send(S, 445, C, 40000, 900, 103, RST | ACK);
    expect(opened[0].closed).toBe(true);
    expect(opened[0].ab.text()).toBe('ab[gap 2]ef');
    expect(table.size).toBe(0);
    send(C, 40000, S, 445, 107, 0, ACK, 'late');
    expect(opened).toHaveLength(2);
    expect(opened[1].flow.id).toBe(2);
    expect(opened[1].ab.text()).toBe('late');
  });

  it('port reuse after a closed connection starts a fresh flow from the new ISN', () => {
    const { opened, send } = setup();
    send(C, 40000, S, 445, 100, 0, SYN);
    send(S, 445, C, 40000, 900, 101, SYN | ACK);
    send(C, 40000, S, 445, 101, 901, ACK, 'one');
    send(C, 40000, S, 445, 104, 901, FIN | ACK);
    send(S, 445, C, 40000, 901, 105, FIN | ACK);
    expect(opened[0].closed).toBe(true);
    send(C, 40000, S, 445, 7_000_000, 0, SYN);
    send(S, 445, C, 40000, 123, 7_000_001, SYN | ACK);
    send(C, 40000, S, 445, 7_000_001, 124, ACK, 'two');
    expect(opened).toHaveLength(2);
    expect(opened[1].ab.items).toEqual([{ data: 'two', frame: 8 }]);
    expect(opened[1].flow.clientIsA).toBe(true);
  });

  it('a new SYN after only the client closed (FIN, TIME_WAIT reuse) replaces the old flow', () => {
    const { opened, send } = setup();
    send(C, 40000, S, 445, 100, 0, SYN);
    send(C, 40000, S, 445, 101, 0, ACK, 'one');
    send(C, 40000, S, 445, 104, 0, FIN | ACK);
    send(C, 40000, S, 445, 5_000_000, 0, SYN);
    send(C, 40000, S, 445, 5_000_001, 0, ACK, 'two');
    expect(opened).toHaveLength(2);
    expect(opened[0].closed).toBe(true);
    expect(opened[0].ab.text()).toBe('one');
    expect(opened[1].ab.text()).toBe('two');
  });

  it('a retransmitted SYN of an open flow does not replace it', () => {
    const { opened, send } = setup();
    send(C, 40000, S, 445, 100, 0, SYN);
    send(C, 40000, S, 445, 100, 0, SYN);
    send(C, 40000, S, 445, 101, 0, ACK, 'x');
    expect(opened).toHaveLength(1);
    expect(opened[0].ab.text()).toBe('x');
  });

  it('finish() flushes and closes every open flow', () => {
    const { opened, send, finish, table } = setup();
    send(C, 40000, S, 445, 1, 0, ACK, 'a');
    send(C, 40001, S, 445, 1, 0, ACK, 'b');
    send(C, 40001, S, 445, 5, 0, ACK, 'e');
    finish();
    expect(opened.map((o) => o.closed)).toEqual([true, true]);
    expect(opened[1].ab.text()).toBe('b[gap 3]e');
    expect(table.size).toBe(0);
  });

  it('the table is bounded: the oldest flow is evicted (and closed) when full', () => {
    const limits: FlowTableLimits = { maxFlows: 2, reassembly: { perStream: 1 << 20, total: { limit: 1 << 30, used: 0 } } };
    const { opened, send, table } = setup(limits);
    send(C, 40000, S, 445, 1, 0, ACK, 'a');
    send(C, 40001, S, 445, 1, 0, ACK, 'b');
    send(C, 40002, S, 445, 1, 0, ACK, 'c');
    expect(table.size).toBe(2);
    expect(table.stats.evicted).toBe(1);
    expect(opened.map((o) => o.closed)).toEqual([true, false, false]);
  });

  it('eviction gives a second chance: a flow still talking outlives a scan of one-packet flows', () => {
    const limits: FlowTableLimits = { maxFlows: 50, reassembly: { perStream: 1 << 20, total: { limit: 1 << 30, used: 0 } } };
    const { opened, send, table } = setup(limits);
    let seq = 1;
    send(C, 40000, S, 445, seq, 0, ACK, 'x');
    for (let i = 0; i < 5000; i++) {
      send(`10.9.${i >> 8}.${i & 255}`, 1024 + i, S, 445, 1, 0, SYN);
      if (i % 20 === 0) send(C, 40000, S, 445, ++seq, 0, ACK, 'x');
    }
    expect(table.size).toBe(50);
    expect(table.stats.evicted).toBe(5001 - 50);
    const talker = opened.find((o) => o.flow.a.port === 40000)!;
    expect(talker.closed).toBe(false);
    expect(talker.ab.text()).toBe('x'.repeat(seq));
    expect(opened.filter((o) => !o.closed)).toHaveLength(50);
  });

  it('an ignored flow gets no more data', () => {
    const { opened, send } = setup(undefined, (f) => { f.ignored = true; });
    send(C, 40000, S, 8080, 1, 0, ACK, 'first');
    send(C, 40000, S, 8080, 6, 0, ACK, 'second');
    expect(opened).toHaveLength(1);
    expect(opened[0].ab.items).toEqual([]);
  });

  it('the reassembly budget comes back when a flow with held data ends', () => {
    const limits: FlowTableLimits = { maxFlows: 10, reassembly: { perStream: 1 << 20, total: { limit: 1 << 30, used: 0 } } };
    const { send } = setup(limits);
    send(C, 40000, S, 445, 1, 0, ACK, 'a');
    send(C, 40000, S, 445, 10, 0, ACK, 'held');
    expect(limits.reassembly.total.used).toBe(4);
    send(C, 40000, S, 445, 14, 0, RST);
    expect(limits.reassembly.total.used).toBe(0);
  });
});

describe('FlowTable memory', () => {
  it('a flow ended by FIN is not kept alive by the eviction queue (30,000 short connections kept ~4,000 ended ones)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const refs: WeakRef<Flow>[] = [];
    const handler: FlowHandler = {
      open(flow) { refs.push(new WeakRef(flow)); return [new StreamRecorder(), new StreamRecorder()]; },
      close() {},
    };
    const table = new FlowTable(handler);
    const decoder = createDecoder();
    let frame = 0;
    const send = (sport: number, fromC: boolean, seq: number, ack: number, flags: number, text = ''): void => {
      const seg = fromC ? tcp(sport, 445, seq, ack, flags, Buffer.from(text)) : tcp(445, sport, seq, ack, flags, Buffer.from(text));
      const p = packetOf(LINKTYPE.RAW, fromC ? ipv4(C, S, IPPROTO_TCP, seg) : ipv4(S, C, IPPROTO_TCP, seg), ++frame);
      if (!decoder.decode(p)) throw new Error('not decoded');
      table.segment(decoder.result.seg, p);
    };
    for (let i = 0; i < 100; i++) {
      const port = 40000 + i;
      send(port, true, 100, 0, SYN);
      send(port, false, 900, 101, SYN | ACK);
      send(port, true, 101, 901, ACK | PSH, 'x');
      send(port, true, 102, 901, FIN | ACK);
      send(port, false, 901, 103, FIN | ACK);
    }
    expect(table.size).toBe(0);
    // the decoder remembers the last flow of a fast path; a last packet of another flow clears it
    send(50000, true, 1, 0, SYN);
    await new Promise((r) => setTimeout(r, 0));
    gc();
    const alive = refs.slice(0, 100).filter((r) => r.deref() !== undefined).length;
    expect(alive).toBe(0);
  });
});
