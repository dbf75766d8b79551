/**
 * SMB1 on real captures: the shared corpus (Zeek, Suricata, Wireshark samples, EternalBlue-era
 * traffic) and the project's own smbclient NT1 capture. Pipe data reaches a recording PipeTap
 * as whole DCE/RPC PDUs, and no SMB1 capture makes the scanner throw. Skips without the corpus.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { parseCaptureBuffer } from '../../src/capture/reader';
import { ACK, cat, ethernet, ETHERTYPE_IPV4, FIN, ipv4, IPPROTO_TCP, LINKTYPE, nbss, pcapFile, PSH, SYN, tcp } from '../helpers/build';
import { scanSmb1File, scanSmb1Pcap, TapCall } from './smb1-helpers';

const CORPUS = path.join(__dirname, '../../../shared/corpus');
const CAPTURES = path.join(__dirname, '../../captures');
const have = fs.existsSync(CORPUS);

interface Truth {
  smb1_request_counts?: Record<string, number>;
  dcerpc?: { requests?: { transport: string; frame: number; opnum: number }[]; binds?: { transport: string; frame: number }[] };
  smb1_open_andx?: { frame: number; filename: string }[];
}
const truthOf = (cap: string): Truth => JSON.parse(fs.readFileSync(`${cap}.truth.json`, 'utf8')) as Truth;

function smb1Captures(): string[] {
  if (!have) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.truth.json')) {
        const cap = p.slice(0, -'.truth.json'.length);
        if (Object.keys(truthOf(cap).smb1_request_counts ?? {}).length) out.push(cap);
      }
    }
  };
  walk(CORPUS);
  return out.sort();
}

/** DCE/RPC PDUs (MS-RPCE 2.2.2.13 common header) in one direction of one pipe handle: the stream is cut by frag_length */
function pdus(calls: TapCall[], kind: 'client' | 'server'): { ptype: number; first: boolean; frame: number | null }[] {
  const out: { ptype: number; first: boolean; frame: number | null }[] = [];
  const byFile = new Map<unknown, TapCall[]>();
  for (const c of calls) if (c.kind === kind) byFile.set(c.file, [...(byFile.get(c.file) ?? []), c]);
  for (const list of byFile.values()) {
    let pending: Buffer = Buffer.alloc(0);
    for (const c of list) {
      pending = cat(pending, c.bytes);
      while (pending.length >= 10 && pending[0] === 5) {
        const len = pending[4] & 0x10 ? pending.readUInt16LE(8) : pending.readUInt16BE(8);
        if (len < 16 || pending.length < len) break;
        out.push({ ptype: pending[2], first: (pending[3] & 1) !== 0, frame: c.frame });
        pending = pending.subarray(len);
      }
      if (pending.length && pending[0] !== 5) pending = Buffer.alloc(0); // not DCE/RPC (psexec stdio, fuzz)
    }
  }
  return out;
}

describe.skipIf(!have)('SMB1 named pipes on real captures: DCE/RPC reaches the PipeTap', () => {
  it('zeek raw_ntlm_in_smb: a BIND by TransactNmPipe first (05 00 0b), then the requests tshark saw, each in its frame', async () => {
    const cap = path.join(CORPUS, 'zeek/raw_ntlm_in_smb.pcap');
    const r = await scanSmb1File(cap);
    const first = r.calls.find((c) => c.kind === 'client')!;
    expect([...first.bytes.subarray(0, 3)]).toEqual([0x05, 0x00, 0x0b]);
    expect(first.path).toBe('srvsvc');
    const truth = truthOf(cap).dcerpc!;
    const reqFrames = pdus(r.calls, 'client').filter((p) => p.ptype === 0 && p.first).map((p) => p.frame);
    expect(reqFrames).toEqual(truth.requests!.filter((q) => q.transport === 'smb1-pipe').map((q) => q.frame));
    const bindFrames = pdus(r.calls, 'client').filter((p) => p.ptype === 11).map((p) => p.frame);
    expect(bindFrames).toEqual(truth.binds!.filter((q) => q.transport === 'smb1-pipe').map((q) => q.frame));
    // every BIND is answered by a BIND_ACK in the server direction
    expect(pdus(r.calls, 'server').filter((p) => p.ptype === 12)).toHaveLength(bindFrames.length);
    expect(r.anomalies).toEqual({});
  });

  it('suricata smb-filename: DCE/RPC carried by plain WRITE_ANDX / READ_ANDX on \\svcctl reaches the tap too', async () => {
    const cap = path.join(CORPUS, 'suricata-verify/smb-filename__input.pcap');
    const r = await scanSmb1File(cap);
    const bind = r.calls.find((c) => c.kind === 'client' && c.frame === 1072)!; // a WRITE_ANDX, WriteMode MSG_START
    expect(bind.path).toBe('svcctl');
    expect([...bind.bytes.subarray(0, 3)]).toEqual([0x05, 0x00, 0x0b]);
    expect(bind.bytes.length).toBe(bind.bytes.readUInt16LE(8)); // one whole PDU, no length prefix
    const ack = r.calls.find((c) => c.kind === 'server' && c.frame === 1075)!; // its READ_ANDX response
    expect([...ack.bytes.subarray(0, 3)]).toEqual([0x05, 0x00, 0x0c]);
    // the EternalBlue-era TRANS2 secondaries are counted, not decoded
    expect(r.anomalies.smb1_trans2_secondary_ignored).toBeGreaterThan(0);
  });

  it('every SMB1 DCE/RPC request tshark decoded is seen, capture by capture', async () => {
    for (const cap of smb1Captures()) {
      const want = (truthOf(cap).dcerpc?.requests ?? []).filter((q) => q.transport === 'smb1-pipe');
      if (!want.length) continue;
      const r = await scanSmb1File(cap);
      const got = pdus(r.calls, 'client').filter((p) => p.ptype === 0 && p.first).map((p) => p.frame);
      expect(got, path.basename(cap)).toEqual(expect.arrayContaining(want.map((q) => q.frame)));
      // each pipe handle opened is closed once, by CLOSE or at the connection's end
      const closed = r.calls.filter((c) => c.kind === 'closed').map((c) => c.file);
      expect(new Set(closed).size, path.basename(cap)).toBe(closed.length);
    }
  });
});

describe.skipIf(!have)('SMB1 corpus captures: no throw, sensible events', () => {
  for (const cap of smb1Captures()) {
    it(path.relative(CORPUS, cap), async () => {
      const r = await scanSmb1File(cap);
      for (const e of r.events) {
        expect(e.session_id).toMatch(/^0x[0-9a-f]{4}$/);
        if (e.action === 'rename') expect(e.new_path).not.toBeNull();
        if (e.path !== null) expect(e.path.startsWith('\\')).toBe(false);
      }
    });
  }

  it('the AndX loop traces are cut and counted (zeek smb1-logoff-andx-*)', async () => {
    const r = await scanSmb1File(path.join(CORPUS, 'zeek/smb1-logoff-andx-no-advance.pcap'));
    expect(r.anomalies.smb1_andx_loop).toBeGreaterThan(0);
  });

  it('OPEN_ANDX of a real client (Windows for Workgroups, carried over IPX there) re-framed on TCP: create events with FID', () => {
    // the corpus has OPEN_ANDX only over IPX, which smbtrail does not read: its SMB bytes are
    // moved into one TCP connection so that the decoder sees a real client's messages
    const cap = path.join(CORPUS, 'jasonlue-pcap/smb-legacy-implementation.pcapng');
    const truth = truthOf(cap).smb1_open_andx ?? [];
    const msgs: { smb: Buffer; reply: boolean; frame: number }[] = [];
    parseCaptureBuffer(fs.readFileSync(cap), {
      packet(p) {
        const d = p.data.subarray(p.off, p.off + p.capLen);
        // 802.3 (length, not EtherType) + raw IPX (checksum 0xFFFF, 30 bytes) + SMB
        if (d.length < 14 + 30 + 33 || d.readUInt16BE(12) > 1500 || d.readUInt16BE(14) !== 0xffff) return;
        const smb = d.subarray(44);
        if (smb.readUInt32BE(0) !== 0xff534d42) return;
        msgs.push({ smb: Buffer.from(smb), reply: (smb[9] & 0x80) !== 0, frame: p.frame });
      },
    });
    expect(msgs.length).toBeGreaterThan(50);
    const frames: Buffer[] = [];
    let cseq = 1000, sseq = 5000;
    const pkt = (fromClient: boolean, flags: number, payload: Buffer = Buffer.alloc(0)): number => {
      const seg = fromClient ? tcp(1025, 139, cseq, sseq, flags, payload) : tcp(139, 1025, sseq, cseq, flags, payload);
      frames.push(ethernet(ipv4(fromClient ? '10.0.0.5' : '10.0.0.9', fromClient ? '10.0.0.9' : '10.0.0.5', IPPROTO_TCP, seg), ETHERTYPE_IPV4));
      const adv = payload.length + (flags & (SYN | FIN) ? 1 : 0);
      if (fromClient) cseq += adv; else sseq += adv;
      return frames.length;
    };
    pkt(true, SYN); pkt(false, SYN | ACK); pkt(true, ACK);
    const frameOf = new Map<number, number>();
    for (const m of msgs) frameOf.set(pkt(!m.reply, ACK | PSH, nbss(m.smb)), m.frame);
    pkt(true, FIN | ACK); pkt(false, FIN | ACK);
    const r = scanSmb1Pcap(pcapFile(frames.map((data, i) => ({ data, sec: 1458121000, usec: i })), LINKTYPE.ETHERNET));
    const opens = r.events.filter((e) => e.action === 'create').map((e) => ({ frame: frameOf.get(e.frame), path: e.path, e }));
    const openAndx = opens.filter((o) => truth.some((t) => t.frame === o.frame));
    expect(openAndx.map((o) => [o.frame, o.path])).toEqual(truth.map((t) => [t.frame, t.filename.replace(/^\\+/, '')]));
    const hello = openAndx[0].e;
    expect(hello.access).toEqual(['GENERIC_READ']); // AccessMode 0x0040: read, deny none
    expect(hello.disposition).toBe('FILE_OPEN');
    expect(hello.status).toBe('STATUS_SUCCESS');
    expect(openAndx[1].e.status).not.toBe('STATUS_SUCCESS'); // NOTEPAD.EXE: ERRDOS/ERRbadfile
    expect(r.anomalies).toEqual({});
  });
});

describe.skipIf(!fs.existsSync(path.join(CAPTURES, '04-smb1-nt1.pcap')))('the project capture 04-smb1-nt1 (smbclient NT1)', () => {
  it('creates, reads and writes as before; the TRANS2 queries make no events and no anomalies', async () => {
    const r = await scanSmb1File(path.join(CAPTURES, '04-smb1-nt1.pcap'));
    const creates = r.events.filter((e) => e.action === 'create').map((e) => e.path);
    expect(creates).toEqual(['ledger.txt', 'README.txt', 'ledger.txt', 'Projects\\Apollo', 'Projects\\Apollo\\kickoff-notes.docx']);
    expect(r.events.filter((e) => e.action === 'write').map((e) => [e.path, e.bytes])).toEqual([['ledger.txt', 12]]);
    expect(r.anomalies).toEqual({});
    expect(r.calls.filter((c) => c.kind !== 'closed')).toEqual([]);
  });
});
