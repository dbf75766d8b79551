import { describe, expect, it } from 'vitest';
import { EVENT_FIELDS, eventValues } from '../../src/events/event';
import { toJsonLine } from '../../src/output/jsonl';
import { accessNames } from '../../src/smb/names';
import { HOSTILE, UNICODE, hostileEvent, makeEvent } from './fixtures';

// What must never appear raw in a JSON line (JSON escaping turns all of it into \uXXXX).
const RAW_UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u206f\ufeff]/;

describe('toJsonLine', () => {
  it('writes keys in EVENT_FIELDS order', () => {
    expect(Object.keys(JSON.parse(toJsonLine(makeEvent())))).toEqual([...EVENT_FIELDS]);
  });

  it('gives exactly this line for a plain event', () => {
    const line = toJsonLine(makeEvent({ response_frame: null, status: null, bytes: 4096, access: [] }));
    expect(line).toBe(
      '{"ts":"2023-06-30T12:49:11.369218Z","capture":"captures/psexec.pcap","frame":42,' +
        '"response_frame":null,"src_ip":"10.0.0.5","src_port":49722,"dst_ip":"10.0.0.12",' +
        '"dst_port":445,"smb_dialect":"3.1.1","session_id":"0x0000100000000009",' +
        '"user":"administrator","domain":"CORP","workstation":"WS01","action":"create",' +
        '"share":"\\\\\\\\10.0.0.12\\\\ADMIN$","share_type":"disk","tree_id":"0x00000005",' +
        '"path":"PSEXESVC.exe","new_path":null,"status":null,"disposition":"FILE_OVERWRITE_IF",' +
        '"access":[],"bytes":4096,"rpc_interface":null,"rpc_operation":null,"rpc_args":null,' +
        '"flags":["ADMIN_SHARE","PSEXESVC","EXECUTABLE_WRITE"],' +
        '"attack":["T1021.002","T1570","T1569.002"],"severity":"high","rules":[],"summary":null,"refs":[]}',
    );
  });

  it('round-trips hostile strings exactly', () => {
    const e = hostileEvent();
    expect(JSON.parse(toJsonLine(e))).toEqual(e);
    for (const s of Object.values(HOSTILE)) {
      expect(JSON.parse(toJsonLine(makeEvent({ path: s }))).path).toBe(s);
    }
  });

  it('keeps legitimate unicode as is, unescaped', () => {
    for (const s of Object.values(UNICODE)) {
      const line = toJsonLine(makeEvent({ user: s }));
      expect(line).toContain(`"user":"${s}"`);
      expect(JSON.parse(line).user).toBe(s);
    }
  });

  it('leaves no raw control, bidi or line-separator character in the line', () => {
    const line = toJsonLine(hostileEvent());
    expect(RAW_UNSAFE.test(line)).toBe(false);
    expect(toJsonLine(makeEvent({ path: HOSTILE.lineSep }))).toContain('"path":"x\\u2028y\\u2029z"');
    expect(toJsonLine(makeEvent({ path: HOSTILE.bidi }))).toContain('"path":"invoice\\u202egpj.exe"');
    expect(toJsonLine(makeEvent({ path: HOSTILE.c1 }))).toContain('"path":"csi\\u009b31m"');
    expect(toJsonLine(makeEvent({ path: HOSTILE.sgr }))).toContain('"path":"\\u001b[31mred\\u001b[0m"');
    expect(toJsonLine(makeEvent({ path: HOSTILE.loneSurrogate }))).toContain('"path":"bad\\ud800name"');
  });

  it('is one line whatever the content', () => {
    const line = toJsonLine(hostileEvent());
    expect(line.split(/\r\n|\r|\n|\u2028|\u2029|\u0085/)).toHaveLength(1);
  });

  it('writes nulls as null and lists as arrays', () => {
    const parsed = JSON.parse(
      toJsonLine(makeEvent({ user: null, domain: null, share: null, access: [], flags: ['IPC_SHARE'] })),
    );
    expect(parsed.user).toBeNull();
    expect(parsed.domain).toBeNull();
    expect(parsed.share).toBeNull();
    expect(parsed.access).toEqual([]);
    expect(parsed.flags).toEqual(['IPC_SHARE']);
  });

  it('keeps every key when a producer leaves a field undefined', () => {
    const e = makeEvent();
    delete (e as Partial<typeof e>).disposition;
    const parsed = JSON.parse(toJsonLine(e));
    expect(Object.keys(parsed)).toEqual([...EVENT_FIELDS]);
    expect(parsed.disposition).toBeNull();
  });

  it('formats a shared access list once, yet never reuses the text of a list that changed', () => {
    const shared = accessNames(0x00120089);
    expect(accessNames(0x00120089)).toBe(shared);
    expect(Object.isFrozen(shared)).toBe(true);
    const a = JSON.parse(toJsonLine(makeEvent({ access: shared, frame: 1 })));
    const b = JSON.parse(toJsonLine(makeEvent({ access: shared, frame: 2 })));
    expect(a.access).toEqual(['READ_DATA', 'READ_EA', 'READ_ATTRIBUTES', 'READ_CONTROL', 'SYNCHRONIZE']);
    expect(b.access).toEqual(a.access);
    // an event's own list, changed between two lines, is written as it is each time
    const own = ['READ_DATA'];
    const e = makeEvent({ access: own, flags: own });
    expect(JSON.parse(toJsonLine(e)).access).toEqual(['READ_DATA']);
    own.push('DELETE');
    expect(JSON.parse(toJsonLine(e))).toMatchObject({ access: ['READ_DATA', 'DELETE'], flags: ['READ_DATA', 'DELETE'] });
    // and a shared list after another does not bring back the first one's text
    const other = accessNames(0x00000001);
    expect(JSON.parse(toJsonLine(makeEvent({ access: other }))).access).toEqual(['READ_DATA']);
    expect(JSON.parse(toJsonLine(makeEvent({ access: shared }))).access).toEqual(a.access);
  });

  it('reads the fields in EVENT_FIELDS order (eventValues, written out field by field)', () => {
    const e = makeEvent();
    // a distinct value per field, so that two swapped fields cannot go unnoticed
    EVENT_FIELDS.forEach((k, i) => { (e as unknown as Record<string, unknown>)[k] = `v${i}`; });
    const out: unknown[] = [];
    eventValues(e, out);
    expect(out).toEqual(EVENT_FIELDS.map((_, i) => `v${i}`));
  });
});
