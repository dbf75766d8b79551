/**
 * Whole captures in memory: TCP conversations (handshake, segments, FIN/RST) written as
 * Ethernet/IPv4|IPv6 frames, an SMB2 client that numbers its messages, and a runner that pushes
 * the pcap through the real pipeline (parseCaptureBuffer → createCapturePipeline).
 */
import { parseCaptureBuffer } from '../../src/capture/reader';
import type { SmbEvent } from '../../src/events/event';
import { compareRecords, EventRecord } from '../../src/events/record';
import { CaptureSummary, createCapturePipeline } from '../../src/scan/scan-capture';
import {
  ACK, closeRequestBody, closeResponseBody, CMD, createRequestBody, createResponseBody, CreateFields,
  ETHERTYPE_IPV4, ETHERTYPE_IPV6, ethernet, FIN, Frame, IPPROTO_TCP, ipv4, ipv6, LINKTYPE, nbss,
  negotiateRequestBody, negotiateResponseBody, ntlmAuthenticateMessage, NtlmIdentityFields, pcapFile,
  PSH, readRequestBody, readResponseBody, req, resp, RST, sessionSetupRequestBody, sessionSetupResponseBody,
  setInfoRequestBody, setInfoResponseBody, Smb2HeaderFields, spnegoResponseToken, SYN, tcp,
  treeConnectRequestBody, treeConnectResponseBody, writeRequestBody, writeResponseBody, errorBody,
} from './build';

export const T0 = 1_700_000_000;

/** Frames of one capture file; each added frame is 1 ms after the previous one. */
export class CaptureBuilder {
  readonly frames: Frame[] = [];
  private usec = 0;

  constructor(readonly linkType: number = LINKTYPE.ETHERNET, readonly startSec = T0) {}

  /** appends a frame and returns its 1-based number */
  add(data: Buffer): number {
    this.usec += 1000;
    this.frames.push({ data, sec: this.startSec + Math.floor(this.usec / 1e6), usec: this.usec % 1e6 });
    return this.frames.length;
  }

  /** the timestamp of frame n as the events print it (µs precision) */
  iso(frame: number): string {
    const f = this.frames[frame - 1];
    return `${new Date(f.sec * 1000).toISOString().slice(0, 19)}.${String(f.usec).padStart(6, '0')}Z`;
  }

  conversation(o: ConversationOptions = {}): Conversation {
    return new Conversation(this, o);
  }

  pcap(): Buffer {
    return pcapFile(this.frames, this.linkType);
  }
}

export interface ConversationOptions {
  client?: string;
  server?: string;
  clientPort?: number;
  serverPort?: number;
  clientIsn?: number;
  serverIsn?: number;
}

/** One TCP connection whose packets are appended to a CaptureBuilder. */
export class Conversation {
  readonly client: string;
  readonly server: string;
  readonly clientPort: number;
  readonly serverPort: number;
  /** next sequence number each side sends */
  cseq: number;
  sseq: number;
  private readonly v6: boolean;

  constructor(private readonly cap: CaptureBuilder, o: ConversationOptions) {
    this.client = o.client ?? '10.0.0.5';
    this.server = o.server ?? '10.0.0.12';
    this.clientPort = o.clientPort ?? 49700;
    this.serverPort = o.serverPort ?? 445;
    this.cseq = o.clientIsn ?? 1000;
    this.sseq = o.serverIsn ?? 50000;
    this.v6 = this.client.includes(':');
  }

  /** one TCP packet; `seq` defaults to the sender's next sequence number (which then advances) */
  packet(fromClient: boolean, flags: number, payload: Buffer = Buffer.alloc(0), seq?: number): number {
    const [src, dst, sp, dp] = fromClient
      ? [this.client, this.server, this.clientPort, this.serverPort]
      : [this.server, this.client, this.serverPort, this.clientPort];
    const s = seq ?? (fromClient ? this.cseq : this.sseq);
    const ack = fromClient ? this.sseq : this.cseq;
    const seg = tcp(sp, dp, s, ack, flags, payload);
    const ip = this.v6 ? ipv6(src, dst, IPPROTO_TCP, seg) : ipv4(src, dst, IPPROTO_TCP, seg);
    const frame = this.cap.add(ethernet(ip, this.v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4));
    if (seq === undefined) {
      const adv = payload.length + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0);
      if (fromClient) this.cseq = (this.cseq + adv) >>> 0; else this.sseq = (this.sseq + adv) >>> 0;
    }
    return frame;
  }

  handshake(): this {
    this.packet(true, SYN);
    this.packet(false, SYN | ACK);
    this.packet(true, ACK);
    return this;
  }

  /** bytes from one side, cut into segments of the given sizes (the rest in a last segment); returns the frames */
  send(fromClient: boolean, bytes: Buffer, sizes: number[] = []): number[] {
    const frames: number[] = [];
    let off = 0;
    for (const n of sizes) {
      if (off >= bytes.length) break;
      frames.push(this.packet(fromClient, ACK, bytes.subarray(off, Math.min(bytes.length, off + n))));
      off += n;
    }
    if (off < bytes.length) frames.push(this.packet(fromClient, ACK | PSH, bytes.subarray(off)));
    return frames;
  }

  /** an SMB message from the client in a NetBIOS frame; returns the frame that completes it */
  c(msg: Buffer, sizes: number[] = []): number {
    const f = this.send(true, nbss(msg), sizes);
    return f[f.length - 1];
  }
  /** an SMB message from the server in a NetBIOS frame; returns the frame that completes it */
  s(msg: Buffer, sizes: number[] = []): number {
    const f = this.send(false, nbss(msg), sizes);
    return f[f.length - 1];
  }

  fin(): void {
    this.packet(true, FIN | ACK);
    this.packet(false, FIN | ACK);
    this.packet(true, ACK);
  }

  rst(fromClient = true): number {
    return this.packet(fromClient, RST | ACK);
  }
}

/** An SMB2 client on a conversation: numbers its messages and answers each request as told. */
export class Smb2Client {
  messageId = 0;

  constructor(readonly conv: Conversation, public sessionId: bigint = 0x0000040000000011n) {}

  /**
   * A request and (unless `response` is null) its response. Returns the frames completing each.
   * `h` fills the request header (messageId, sessionId default to the client's).
   */
  exchange(
    h: Partial<Smb2HeaderFields> & { command: number },
    reqBody: Buffer,
    response: { status?: number; body?: Buffer; treeId?: number } | null,
  ): { req: number; resp: number | null; messageId: number } {
    const messageId = h.messageId === undefined ? this.messageId++ : Number(h.messageId);
    const head: Smb2HeaderFields = { sessionId: this.sessionId, ...h, messageId };
    const reqFrame = this.conv.c(req(head, reqBody));
    if (response === null) return { req: reqFrame, resp: null, messageId };
    const status = response.status ?? 0;
    const body = response.body ?? errorBody();
    const respFrame = this.conv.s(resp({
      command: h.command, messageId, sessionId: this.sessionId, treeId: response.treeId ?? h.treeId, status, credit: 1,
    }, body));
    return { req: reqFrame, resp: respFrame, messageId };
  }

  negotiate(dialect = 0x0311): void {
    const sid = this.sessionId;
    this.sessionId = 0n;
    this.exchange({ command: CMD.NEGOTIATE }, negotiateRequestBody([0x0202, 0x0210, 0x0300, 0x0302, 0x0311]),
      { body: negotiateResponseBody(dialect) });
    this.sessionId = sid;
  }

  /** the AUTHENTICATE leg of an NTLM session setup */
  sessionSetup(id: NtlmIdentityFields, o: { spnego?: boolean; status?: number; binding?: boolean } = {}): { req: number; resp: number | null } {
    const ntlm = ntlmAuthenticateMessage(id);
    const blob = o.spnego === false ? ntlm : spnegoResponseToken(ntlm);
    return this.exchange({ command: CMD.SESSION_SETUP }, sessionSetupRequestBody(blob, { binding: o.binding }),
      { status: o.status ?? 0, body: o.status ? errorBody() : sessionSetupResponseBody(0, Buffer.from('a1073005a0030a0100', 'hex')) });
  }

  treeConnect(path: string, treeId: number, shareType = 1, status = 0): { req: number; resp: number | null } {
    return this.exchange({ command: CMD.TREE_CONNECT }, treeConnectRequestBody(path),
      { status, treeId: status === 0 ? treeId : 0, body: status === 0 ? treeConnectResponseBody(shareType) : errorBody() });
  }

  create(treeId: number, c: CreateFields, id: Buffer, status = 0, createAction = 1): { req: number; resp: number | null } {
    return this.exchange({ command: CMD.CREATE, treeId }, createRequestBody(c),
      { status, body: status === 0 ? createResponseBody(id, createAction) : errorBody() });
  }

  write(treeId: number, id: Buffer, data: Buffer, status = 0): { req: number; resp: number | null } {
    return this.exchange({ command: CMD.WRITE, treeId }, writeRequestBody(id, data),
      { status, body: status === 0 ? writeResponseBody(data.length) : errorBody() });
  }

  read(treeId: number, id: Buffer, data: Buffer, status = 0): { req: number; resp: number | null } {
    return this.exchange({ command: CMD.READ, treeId }, readRequestBody(id, data.length),
      { status, body: status === 0 ? readResponseBody(data) : errorBody() });
  }

  setInfo(treeId: number, id: Buffer, infoClass: number, buffer: Buffer, status = 0): { req: number; resp: number | null } {
    return this.exchange({ command: CMD.SET_INFO, treeId }, setInfoRequestBody(id, infoClass, buffer),
      { status, body: status === 0 ? setInfoResponseBody() : errorBody() });
  }

  close(treeId: number, id: Buffer): { req: number; resp: number | null } {
    return this.exchange({ command: CMD.CLOSE, treeId }, closeRequestBody(id), { body: closeResponseBody() });
  }
}

export interface ScanResult {
  events: SmbEvent[];
  records: EventRecord[];
  /** for each event (same order): the frame being processed when it was emitted, 0 = at finish() */
  emittedAt: number[];
  summary: CaptureSummary;
}

/** Runs a pcap held in memory through the whole pipeline; events in output order. */
export function scanPcap(pcap: Buffer, label = 'mem.pcap'): ScanResult {
  const got: { r: EventRecord; at: number }[] = [];
  let current = 0;
  const pipe = createCapturePipeline(label, (r) => got.push({ r, at: current }));
  parseCaptureBuffer(pcap, { packet(p) { current = p.frame; pipe.sink.packet(p); } });
  current = 0;
  const summary = pipe.finish();
  got.sort((a, b) => compareRecords(a.r, b.r));
  return { events: got.map((g) => g.r.ev), records: got.map((g) => g.r), emittedAt: got.map((g) => g.at), summary };
}

export const scanBuilder = (cap: CaptureBuilder, label?: string): ScanResult => scanPcap(cap.pcap(), label);

/** events of one action */
export const only = (r: ScanResult, action: string): SmbEvent[] => r.events.filter((e) => e.action === action);
