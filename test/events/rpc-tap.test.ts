/** The DCE/RPC stage of the events: calls become rpc events, and pipe state stays bounded. */
import { describe, expect, it } from 'vitest';
import { createPipeTap } from '../../src/events/rpc';
import type { ScanState } from '../../src/events/smb2';
import { OpenFile, SessionTable, Stamp } from '../../src/events/state';
import type { EventRecord } from '../../src/events/record';
import { NO_PIPES } from '../../src/events/pipes';

/** a REQUEST PDU (little-endian, one fragment) with an empty stub, on context 0 */
function request(callId: number, opnum: number): Buffer {
  const b = Buffer.alloc(24);
  b[0] = 5; b[1] = 0; b[2] = 0; b[3] = 0x03; b.writeUInt32LE(0x10, 4);
  b.writeUInt16LE(24, 8); b.writeUInt16LE(0, 10); b.writeUInt32LE(callId, 12);
  b.writeUInt32LE(0, 16); b.writeUInt16LE(0, 20); b.writeUInt16LE(opnum, 22);
  return b;
}

function scanState(): { scan: ScanState; records: EventRecord[]; anomalies: Record<string, number> } {
  const records: EventRecord[] = [];
  const anomalies: Record<string, number> = {};
  const scan: ScanState = {
    capture: 'x.pcap', sessions: new SessionTable(), emit: (r) => { records.push(r); },
    anomaly: (k, n = 1) => { anomalies[k] = (anomalies[k] ?? 0) + n; }, seq: 0, smbMessages: 0, pipes: NO_PIPES,
  };
  return { scan, records, anomalies };
}

function pipeFile(scan: ScanState, i: number): OpenFile {
  const session = scan.sessions.get('10.0.0.1', `0x${i.toString(16).padStart(16, '0')}`);
  return {
    path: 'svcctl', tree: { id: 1, hexId: '0x00000001', share: '\\\\10.0.0.1\\IPC$', shareType: 'pipe', used: false }, session,
    conn: { clientIp: '10.0.0.2', clientPort: 50000, serverIp: '10.0.0.1', serverPort: 445, dialect: '3.1.1' },
    read: null, write: null, closed: false,
  };
}
const at = (frame: number): Stamp => ({ sec: 1, ns: 0, digits: 6, frame, capture: 'x.pcap' });

describe('createPipeTap', () => {
  it('a request without its BIND is an rpc event named by opnum, reported unanswered when the handle closes', () => {
    const { scan, records } = scanState();
    const tap = createPipeTap(scan);
    const f = pipeFile(scan, 1);
    const req = request(7, 12);
    tap.clientData(f, req, 0, req.length, at(10));
    expect(records).toEqual([]);
    tap.closed(f);
    expect(records).toHaveLength(1);
    expect(records[0].ev).toMatchObject({
      action: 'rpc', frame: 10, rpc_interface: null, rpc_operation: 'opnum 12', status: null, share: '\\\\10.0.0.1\\IPC$', path: 'svcctl',
    });
  });

  it('never follows more than 10,000 pipe handles: the oldest is closed and counted', () => {
    const { scan, records, anomalies } = scanState();
    const tap = createPipeTap(scan);
    const req = request(1, 0);
    for (let i = 0; i < 10_050; i++) tap.clientData(pipeFile(scan, i), req, 0, req.length, at(i + 1));
    expect(anomalies.rpc_pipes_evicted).toBe(50);
    // the evicted handles' calls are reported (unanswered), the oldest first
    expect(records.map((r) => r.ev.frame)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });
});
