/**
 * One capture file through every stage: packets → TCP streams → SMB messages → events.
 * Events go to `emit` as they complete; counts go to the returned summary.
 */
import type { PathLike } from 'fs';
import type { CaptureInfo, Packet, PacketSink } from '../capture/packet';
import { readCapture } from '../capture/reader';
import { createDecoder } from '../net/decode';
import { FlowTable, Flow } from '../tcp/flows';
import { KeptBudget, MessageSink, SmbFramer } from '../smb/framer';
import { flushAllTransfers, flushTransfers, ScanState, Smb2Connection } from '../events/smb2';
import { MAX_RETIRED_SESSIONS, MAX_SESSIONS, Session, SessionTable } from '../events/state';
import { createPipeTap, rpcOverTcp } from '../events/rpc';
import { heldStubs } from '../rpc/pipe';
import { looksLikeDcerpc } from '../rpc/sniff';
import type { StreamConsumer } from '../tcp/reassembly';
import { NO_PIPES } from '../events/pipes';
import type { EventSink } from '../events/record';

export interface CaptureSummary {
  capture: string;
  info: CaptureInfo | null;
  packets: number;
  bytes: number;
  tcpFlows: number;
  smbConnections: number;
  smbMessages: number;
  anomalies: Record<string, number>;
}

const SMB_PORTS = new Set([445, 139]);

export function newSummary(capture: string): CaptureSummary {
  return { capture, info: null, packets: 0, bytes: 0, tcpFlows: 0, smbConnections: 0, smbMessages: 0, anomalies: {} };
}

export interface CapturePipeline {
  sink: PacketSink;
  /** the next packets come from another file of the same stream (--stitch): events name it */
  setCapture(label: string): void;
  /** flushes what is still open; the summary covers every packet the sink saw */
  finish(): CaptureSummary;
  /** SMB messages decoded so far */
  smbMessages(): number;
}

interface DecoderContext { scan: ScanState; kept: KeptBudget; anomaly: (kind: string, n?: number) => void }

/**
 * A flow's decoding state, made with its first byte of payload, not with the flow: a SYN scan
 * opens a flow per probe (200,000 SYNs took 935 MB when each got its framers up front). Plain
 * objects with their methods on the prototype rather than closures: 10,000 flows waiting for an
 * answer held ~15 closures and their contexts each (~1 KB a flow).
 */
class FlowDecoder {
  chosen: [StreamConsumer, StreamConsumer] | null = null;
  conn: Smb2Connection | null = null;
  rpcClose: (() => void) | null = null;
  private readonly smbPort: boolean;

  constructor(private readonly ctx: DecoderContext, readonly flow: Flow) {
    this.smbPort = SMB_PORTS.has(flow.a.port) || SMB_PORTS.has(flow.b.port);
  }

  /** on the SMB ports it is SMB; elsewhere the first bytes decide: DCE/RPC straight on TCP
   * (endpoint mapper, DRSUAPI, SCMR on dynamic ports) or SMB found by its signature */
  choose(buf: Buffer, off: number, len: number): [StreamConsumer, StreamConsumer] {
    if (!this.smbPort && looksLikeDcerpc(buf, off, off + len)) {
      const rpc = rpcOverTcp(this.ctx.scan, this.flow);
      this.rpcClose = rpc.close;
      return (this.chosen = rpc.consumers);
    }
    const conn = new Smb2Connection(this.ctx.scan, this.flow);
    this.conn = conn;
    return (this.chosen = [
      new SmbFramer(new SmbSide(conn, this.flow, true, this.ctx.anomaly), this.smbPort, this.ctx.kept),
      new SmbFramer(new SmbSide(conn, this.flow, false, this.ctx.anomaly), this.smbPort, this.ctx.kept),
    ]);
  }
}

/** one direction of a flow, handed to its reassembler before the payload says what it carries */
class FlowSide implements StreamConsumer {
  constructor(private readonly d: FlowDecoder, private readonly i: 0 | 1) {}
  data(buf: Buffer, off: number, len: number, at: Packet): void { (this.d.chosen ?? this.d.choose(buf, off, len))[this.i].data(buf, off, len, at); }
  gap(bytes: number): void { this.d.chosen?.[this.i].gap(bytes); }
  end(): void { this.d.chosen?.[this.i].end?.(); }
}

/** one direction's framed SMB messages, to the flow's connection */
class SmbSide implements MessageSink {
  constructor(private readonly conn: Smb2Connection, private readonly flow: Flow, private readonly fromA: boolean, readonly anomaly: (kind: string, n?: number) => void) {}
  keep(buf: Buffer, off: number, headLen: number, msgLen: number): number { return this.conn.keep(buf, off, headLen, msgLen); }
  message(buf: Buffer, off: number, kept: number, msgLen: number, at: Packet): void { this.conn.message(buf, off, kept, msgLen, at, this.fromA); }
  notSmb(): void { this.flow.ignored = true; }
}

/** The per-capture pipeline as a PacketSink; `finish()` flushes what is still open. */
export function createCapturePipeline(
  capture: string, emit: EventSink, onBytes?: (bytes: number) => void,
): CapturePipeline {
  const summary = newSummary(capture);
  const anomalies = summary.anomalies;
  const anomaly = (kind: string, n = 1): void => { anomalies[kind] = (anomalies[kind] ?? 0) + n; };
  // a session let go reports its open handles' totals now (they would be lost with it); one
  // evicted while its connections lived is counted, one retired after they ended is not
  const flushSession = (s: Session): void => { for (const f of new Set(s.files.values())) flushTransfers(scan, f); };
  const sessions = new SessionTable(MAX_SESSIONS, (s) => { anomaly('sessions_evicted'); flushSession(s); }, MAX_RETIRED_SESSIONS, flushSession);
  // DCE/RPC stubs being assembled or awaiting their answer, every pipe together: 16 MiB of stub
  // bytes (up to twice that in buffers); beyond, the calls held longest give theirs up (counted)
  const scan: ScanState = { capture, sessions, emit, anomaly, seq: 0, smbMessages: 0, pipes: NO_PIPES, pendingTotal: 0, rpcHeld: heldStubs(16 << 20) };
  scan.pipes = createPipeTap(scan);
  let smbConnections = 0;
  let lastPacket: Packet | null = null;
  let seen = 0;

  // unfinished SMB messages kept by all connections together (see KeptBudget)
  const kept: KeptBudget = { limit: 32 << 20, used: 0 };
  /** the decoding state of the flows not ended yet, by flow id */
  const decoders = new Map<number, FlowDecoder>();
  const ctx: DecoderContext = { scan, kept, anomaly };
  const flows = new FlowTable({
    open(flow: Flow) {
      const d = new FlowDecoder(ctx, flow);
      decoders.set(flow.id, d);
      return [new FlowSide(d, 0), new FlowSide(d, 1)];
    },
    close(flow: Flow) {
      const d = decoders.get(flow.id);
      if (d === undefined) return;
      decoders.delete(flow.id);
      d.rpcClose?.();
      const conn = d.conn;
      if (!conn) return;
      conn.close();
      if (conn.smbSeen) smbConnections++;
    },
  });

  const { decode, result } = createDecoder();
  const sink: PacketSink = {
    packet(p: Packet) {
      summary.packets++;
      if (onBytes !== undefined) onBytes((seen += p.capLen + 16));
      lastPacket = p;
      if (decode(p)) flows.segment(result.seg, p);
      else if (result.skip) anomaly(result.skip);
    },
  };

  function finish(): CaptureSummary {
    if (lastPacket) flows.finish(lastPacket);
    // handles still open when the capture ends: their reads and writes are reported now
    flushAllTransfers(scan);
    const st = flows.stats;
    summary.tcpFlows = st.flows;
    summary.smbConnections = smbConnections;
    summary.smbMessages = scan.smbMessages;
    if (st.gaps) anomaly('tcp_gaps', st.gaps);
    if (st.gapBytes) anomaly('tcp_gap_bytes', st.gapBytes);
    if (st.budgetGaps) anomaly('tcp_reassembly_budget_exceeded', st.budgetGaps);
    if (st.evicted) anomaly('tcp_flows_evicted', st.evicted);
    return summary;
  }
  function setCapture(label: string): void {
    scan.capture = label;
    summary.capture = label;
  }
  return { sink, setCapture, finish, smbMessages: () => scan.smbMessages };
}

/** Reads and scans one capture file; a CaptureError propagates for the caller to report. */
export async function scanCapture(
  path: PathLike, label: string, emit: EventSink, onBytes?: (bytes: number) => void, syncReads = false,
): Promise<CaptureSummary> {
  // a compressed file reports how far into the file it is; a plain one counts its packets' bytes
  let compressed = false;
  const pipe = createCapturePipeline(label, emit, onBytes && ((b) => { if (!compressed) onBytes(b); }));
  const info = await readCapture(path, pipe.sink, {
    sync: syncReads, compressedProgress: onBytes && ((b) => { compressed = true; onBytes(b); }),
  });
  const summary = pipe.finish();
  summary.info = info;
  summary.bytes = info.bytes;
  for (const [k, v] of Object.entries(info.anomalies)) summary.anomalies[k] = (summary.anomalies[k] ?? 0) + v;
  return summary;
}
