/** Synthetic event records for the sorter tests: deterministic (seeded), realistic in size. */
import type { Action, SmbEvent } from '../../src/events/event';
import type { EventRecord } from '../../src/events/record';
import { RunMerge } from '../../src/events/sorter';

/** mulberry32: a small seeded PRNG, [0, 1) */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ACTIONS: Action[] = ['session_setup', 'tree_connect', 'create', 'read', 'write', 'rename', 'delete', 'encrypted'];

export function event(over: Partial<SmbEvent> = {}): SmbEvent {
  return {
    ts: '2024-03-01T10:00:00.000000Z', capture: 'a.pcap', frame: 1, response_frame: 2,
    src_ip: '10.0.0.5', src_port: 49712, dst_ip: '10.0.0.12', dst_port: 445,
    smb_dialect: '3.1.1', session_id: '0x0000100000000011', user: 'alice', domain: 'CORP', workstation: 'WS01',
    action: 'create', share: '\\\\10.0.0.12\\C$', share_type: 'disk', tree_id: '0x00000005',
    path: 'Windows\\Temp\\x.exe', new_path: null, status: 'STATUS_SUCCESS', disposition: 'FILE_OPEN',
    access: ['READ_DATA', 'SYNCHRONIZE'], bytes: null, flags: ['admin_share'], attack: ['T1021.002'], severity: 'medium',
    rpc_interface: null, rpc_operation: null, rpc_args: null, rules: [], summary: null, refs: [],
    ...over,
  };
}

export function rec(sec: number, ns: number, capture: string, frame: number, seq: number, over: Partial<SmbEvent> = {}): EventRecord {
  return { sec, ns, seq, ev: event({ capture, frame, ...over }) };
}

/**
 * `n` records as several parallel captures would produce them: times from a narrow window (many
 * equal seconds, some equal ns), per-capture frame and seq counters, varied strings.
 */
export function* synthetic(n: number, seed = 1, captures = 4): Generator<EventRecord> {
  const r = rng(seed);
  const frames = new Array<number>(captures).fill(0);
  const seqs = new Array<number>(captures).fill(0);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * captures);
    const frame = (frames[c] += 1 + Math.floor(r() * 3));
    const sec = 1_700_000_000 + Math.floor(r() * 5000);
    const ns = Math.floor(r() * 4) * 250_000_000 + (r() < 0.5 ? 0 : Math.floor(r() * 1000) * 1000);
    const action = ACTIONS[Math.floor(r() * ACTIONS.length)];
    const id = Math.floor(r() * 1e9);
    yield {
      sec, ns, seq: seqs[c]++,
      ev: event({
        capture: `captures/sensor-${c}/ring_${String(c).padStart(5, '0')}.pcapng`,
        frame, response_frame: r() < 0.1 ? null : frame + 1,
        ts: `t${sec}.${ns}`,
        src_port: 49152 + (id % 16000), action,
        session_id: `0x${id.toString(16).padStart(16, '0')}`,
        path: `Users\\user${id % 997}\\Documents\\report-${id}.docx`,
        bytes: action === 'read' || action === 'write' ? id % 100000 : null,
      }),
    };
  }
}

/** the whole output of RunMerge over `files`, as a string */
export function mergeAll(files: string[], o?: { chunk?: number; outBytes?: number; from?: number[]; until?: number[] }): string {
  const m = new RunMerge(files, o);
  const parts: Buffer[] = [];
  try {
    for (let b = m.next(); b !== null; b = m.next()) parts.push(b);
  } finally {
    m.close();
  }
  return Buffer.concat(parts).toString('utf8');
}
