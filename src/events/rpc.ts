/**
 * DCE/RPC calls → `rpc` events. Named-pipe data from the SMB decoders (PipeTap) and DCE/RPC
 * over plain TCP both go through one RpcPipe per pipe handle or TCP connection; each completed
 * call becomes one event dated by its request, with the arguments decoded from NDR and the
 * context handles it used named after the object they were opened for (service, registry key).
 */
import type { Packet } from '../capture/packet';
import type { Flow } from '../tcp/flows';
import type { StreamConsumer } from '../tcp/reassembly';
import { RpcPipe, RpcPipeLimits } from '../rpc/pipe';
import { decodeArgs } from '../rpc/args';
import { ntName, win32Name } from '../rpc/args/common';
import type { RpcCall } from '../rpc/types';
import type { PipeTap } from './pipes';
import { ntlmAuthenticate, NtlmIdentity } from '../smb/ntlmssp';
import { hex8, newEvent, ScanState } from './smb2';
import { ConnRef, OpenFile, Session, Stamp, stampOf, Tree } from './state';
import { oldestKey } from '../util/oldest';

interface At { stamp: Stamp; seq: number; conn?: ConnRef }

/** where a call's event says it happened */
interface Place {
  conn: ConnRef; session: Session | null; tree: Tree | null; path: string | null;
  /** outside SMB: the identity of the DCE/RPC authentication, if any */
  who?: NtlmIdentity | null;
}

/** per pipe: context handle → the name of what it was opened for */
type Handles = Map<string, string>;
const MAX_HANDLES = 1024;

/** how each interface names the objects behind its handles; `join`: a child's name extends its parent's */
const HANDLE_NAMES: Record<string, { field: string; join: boolean }> = {
  svcctl: { field: 'service_name', join: false },
  winreg: { field: 'key', join: true },
  eventlog: { field: 'module_name', join: false },
};

/** FAULT statuses (C706 appendix E, MS-RPCE 3.1.1.5.5) that clients actually meet */
const FAULTS: Record<number, string> = {
  0x00000005: 'nca_s_fault_access_denied',
  0x000006d1: 'nca_s_op_rng_error (RPC_S_PROCNUM_OUT_OF_RANGE)',
  0x000006f7: 'nca_s_fault_ndr (RPC_X_BAD_STUB_DATA)',
  0x1c010002: 'nca_s_op_rng_error',
  0x1c010003: 'nca_s_unk_if',
  0x1c01000b: 'nca_s_proto_error',
  0x1c00001b: 'nca_s_fault_remote_no_memory',
  0x1c000012: 'nca_s_fault_invalid_tag',
  0x1c000001: 'nca_s_fault_int_div_by_zero',
  0x00000721: 'nca_s_fault_sec_pkg_error (RPC_S_SEC_PKG_ERROR)',
};

/**
 * Interfaces whose operations return an NTSTATUS (MS-LSAD, MS-SAMR, MS-NRPC, MS-EVEN): their success and
 * warning codes (0x00000107 STATUS_SOME_NOT_MAPPED) are below 0x80000000, where the same numbers
 * mean other Win32 errors.
 */
const NTSTATUS_INTERFACES = new Set(['lsarpc', 'samr', 'rpc_netlogon', 'eventlog']);

/**
 * The call's result: a FAULT's status; else the operation's return value, which MS-RPC puts in
 * the last 4 bytes of every response stub (NTSTATUS or Win32 error), named by the argument
 * decoder where there is one. With packet privacy the stub, and so the result, is encrypted.
 */
function statusOf(c: RpcCall<At>, args: Record<string, string> | null): string | null {
  if (c.status === null) return null;
  if (c.fault) return `FAULT ${FAULTS[c.status >>> 0] ?? hex8(c.status)}`;
  if (args?.error) return args.error;
  const r = c.response;
  if (r === null || r.length < 4) return c.authLevel === 6 ? 'RESPONSE_ENCRYPTED' : 'RESPONSE';
  const code = c.littleEndian ? r.readUInt32LE(r.length - 4) : r.readUInt32BE(r.length - 4);
  return code >= 0x80000000 || (c.iface !== null && NTSTATUS_INTERFACES.has(c.iface)) ? ntName(code) : win32Name(code);
}

/** names the handles a call used, remembers the ones it returned, and hides the raw handle values */
function nameHandles(iface: string, args: Record<string, string>, handles: Handles): Record<string, string> | null {
  const how = HANDLE_NAMES[iface];
  if (how) {
    const parent = args.handle !== undefined ? handles.get(args.handle) : undefined;
    const own = args[how.field];
    if (parent !== undefined) args[how.field] = own === undefined ? parent : how.join ? `${parent}\\${own}` : own;
    const name = args[how.field] ?? args.hive;
    for (const [k, v] of Object.entries(args)) {
      if (k === 'handle' || !k.endsWith('_handle') || name === undefined) continue;
      if (handles.size >= MAX_HANDLES) handles.delete(oldestKey(handles) as string);
      handles.set(v, name);
    }
  }
  const out: Record<string, string> = {};
  let any = false;
  for (const [k, v] of Object.entries(args)) {
    if (k === 'handle' || k.endsWith('_handle') || k === 'error') continue;
    out[k] = v; any = true;
  }
  return any ? out : null;
}

/** callEvent keeps nothing of a stub: arguments come out as strings */
const REUSE = { reuseStubs: true };
/** the scan's pipes share one budget of held stub bytes */
const limitsOf = (scan: ScanState): Partial<RpcPipeLimits> => (scan.rpcHeld ? { ...REUSE, held: scan.rpcHeld } : REUSE);

function callEvent(scan: ScanState, place: Place, handles: Handles, c: RpcCall<At>): void {
  let args: Record<string, string> | null = null;
  if (c.iface) {
    const raw = decodeArgs(c.iface, c.opnum, c.request, c.response, c.littleEndian, c.ndr64);
    if (raw) args = { ...raw };
  }
  const status = statusOf(c, args);
  // the request's own connection: with multichannel it need not be the one that opened the pipe
  const ev = newEvent('rpc', c.requestAt.stamp, c.requestAt.conn ?? place.conn, place.session, place.tree, place.path);
  // with --stitch the response can be in the next file: its frame number would point at an
  // unrelated packet of the event's capture
  ev.response_frame = c.responseAt && c.responseAt.stamp.capture === c.requestAt.stamp.capture ? c.responseAt.stamp.frame : null;
  ev.rpc_interface = c.iface ?? c.uuid;
  ev.rpc_operation = c.operation ?? `opnum ${c.opnum}`;
  ev.rpc_args = args && c.iface ? nameHandles(c.iface, args, handles) : null;
  ev.status = status;
  if (c.authLevel === 6) ev.summary = 'arguments encrypted (RPC packet privacy)';
  if (place.who) { ev.user = place.who.user; ev.domain = place.who.domain; ev.workstation = place.who.workstation; }
  scan.emit({ sec: c.requestAt.stamp.sec, ns: c.requestAt.stamp.ns, seq: c.requestAt.seq, ev });
}

interface PipeState { pipe: RpcPipe<At>; handles: Handles }

/** pipe handles followed at once per scan; beyond, the least recently opened is closed (counted) */
const MAX_PIPES = 10_000;

/** The DCE/RPC stage for named pipes of one scan. */
export function createPipeTap(scan: ScanState): PipeTap {
  const pipes = new Map<OpenFile, PipeState>();
  const stateOf = (f: OpenFile): PipeState => {
    let st = pipes.get(f);
    if (!st) {
      if (pipes.size >= MAX_PIPES) {
        // handles that are never closed (lost CLOSEs, a hostile client): their calls are reported now
        const oldFile = oldestKey(pipes) as OpenFile;
        const old = pipes.get(oldFile) as PipeState;
        pipes.delete(oldFile);
        old.pipe.close();
        scan.anomaly('rpc_pipes_evicted');
      }
      const handles: Handles = new Map();
      const place = (): Place => ({ conn: f.conn, session: f.session, tree: f.tree, path: f.path });
      st = {
        handles,
        pipe: new RpcPipe<At>({ onCall: (c) => callEvent(scan, place(), handles, c), anomaly: (k) => scan.anomaly(k) }, limitsOf(scan)),
      };
      pipes.set(f, st);
    }
    return st;
  };
  return {
    clientData(f, buf, off, end, stamp, conn) { stateOf(f).pipe.clientData(buf, off, end, { stamp, seq: scan.seq++, conn }); },
    serverData(f, buf, off, end, stamp) { stateOf(f).pipe.serverData(buf, off, end, { stamp, seq: scan.seq++ }); },
    closed(f) {
      const st = pipes.get(f);
      if (!st) return;
      pipes.delete(f);
      st.pipe.close();
    },
  };
}

/** connection-oriented PDU types by who sends them (C706 12.6.4; MS-RPCE 2.2.2.1) */
const PTYPE_SENDER: Record<number, 'client' | 'server'> = {
  0: 'client', 11: 'client', 14: 'client', 16: 'client', 18: 'client', 19: 'client', // request, bind, alter_context, auth3, co_cancel, orphaned
  2: 'server', 3: 'server', 12: 'server', 13: 'server', 15: 'server', 17: 'server', // response, fault, bind_ack, bind_nak, alter_context_resp, shutdown
};

/**
 * DCE/RPC directly on a TCP connection (the endpoint mapper on 135 and the dynamic ports it
 * hands out: DRSUAPI replication, SCMR, task scheduler). There is no SMB session, share or pipe.
 */
export function rpcOverTcp(scan: ScanState, flow: Flow): { consumers: [StreamConsumer, StreamConsumer]; close(): void } {
  const handles: Handles = new Map();
  let ref: ConnRef | null = null;
  const conn = (): ConnRef => {
    if (ref) return ref;
    const clientIsA = flow.clientIsA !== false;
    const c = clientIsA ? flow.a : flow.b, s = clientIsA ? flow.b : flow.a;
    return (ref = { clientIp: c.ip, clientPort: c.port, serverIp: s.ip, serverPort: s.port, dialect: null });
  };
  // no SMB session here: the user is the one the client authenticated as in its BIND/AUTH3 (NTLMSSP)
  let who: NtlmIdentity | null = null;
  const pipe = new RpcPipe<At>({
    onCall: (c) => { callEvent(scan, { conn: conn(), session: null, tree: null, path: null, who }, handles, c); },
    onAuth: (token) => { who = ntlmAuthenticate(token) ?? who; },
    anomaly: (k) => scan.anomaly(k),
  }, limitsOf(scan));
  const side = (fromA: boolean): StreamConsumer => ({
    data(buf: Buffer, off: number, len: number, at: Packet) {
      // no handshake captured: a PDU's type says who sent it (a capture that starts mid-stream
      // may start with the server's answer); failing that, the client speaks first (BIND)
      if (flow.clientIsA === null) {
        const sender = len >= 3 && buf[off] === 5 && buf[off + 1] === 0 ? PTYPE_SENDER[buf[off + 2]] : undefined;
        flow.clientIsA = sender === undefined ? fromA : sender === 'client' ? fromA : !fromA;
      }
      const a = { stamp: stampOf(at, scan.capture), seq: scan.seq++ };
      if (fromA === (flow.clientIsA !== false)) pipe.clientData(buf, off, off + len, a);
      else pipe.serverData(buf, off, off + len, a);
    },
    gap() { scan.anomaly('rpc_stream_gap'); },
  });
  return { consumers: [side(true), side(false)], close: () => pipe.close() };
}
