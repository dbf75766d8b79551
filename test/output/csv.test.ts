import { describe, expect, it } from 'vitest';
import { EVENT_FIELDS } from '../../src/events/event';
import { CSV_EOL, CSV_HEADER, toCsvRow } from '../../src/output/csv';
import { parseCsv } from './csvparse';
import { HOSTILE, UNICODE, hostileEvent, makeEvent } from './fixtures';

describe('CSV output', () => {
  it('has a header equal to EVENT_FIELDS, in order', () => {
    expect(CSV_HEADER).toBe(EVENT_FIELDS.join(','));
    expect(parseCsv(CSV_HEADER + CSV_EOL)).toEqual([[...EVENT_FIELDS]]);
    expect(CSV_EOL).toBe('\n');
  });

  it('writes a plain event exactly', () => {
    expect(toCsvRow(makeEvent({ response_frame: null, bytes: 4096, new_path: null }))).toBe(
      '2023-06-30T12:49:11.369218Z,captures/psexec.pcap,42,,10.0.0.5,49722,10.0.0.12,445,3.1.1,' +
        '0x0000100000000009,administrator,CORP,WS01,create,\\\\10.0.0.12\\ADMIN$,disk,0x00000005,' +
        'PSEXESVC.exe,,STATUS_SUCCESS,FILE_OVERWRITE_IF,FILE_WRITE_DATA|SYNCHRONIZE,4096,,,,' +
        'ADMIN_SHARE|PSEXESVC|EXECUTABLE_WRITE,T1021.002|T1570|T1569.002,high,,,',
    );
  });

  it('parses back to the neutralised values of a hostile event', () => {
    const [record] = parseCsv(toCsvRow(hostileEvent()) + CSV_EOL);
    const byField = Object.fromEntries(EVENT_FIELDS.map((f, i) => [f, record[i]]));
    expect(record).toHaveLength(EVENT_FIELDS.length);
    expect(byField).toMatchObject({
      capture: 'evil,"capture".pcap',
      frame: '42',
      src_port: '49722',
      smb_dialect: "'+1",
      user: '\\x1b[31mred\\x1b[0m',
      domain: "'=cmd|' /C calc'!A0",
      workstation: '\\x1b]0;pwned title\\x07',
      share: '\\\\10.0.0.12\\@SUM(1)',
      path: 'dir\\line1\\x0aline2.txtinvoice\\u202egpj.exe',
      new_path: 'fake\\x0d\\x0a2023-01-01 forged row',
      status: "'-2+3",
      disposition: "'\\x09x",
      access: "'\\x0dx|a\\x00b",
      severity: 'high',
      rpc_args: "service=\\x1b[31mred\\x1b[0m; binary_path==cmd|' /C calc'!A0",
      summary: 'fake\\x0d\\x0a2023-01-01 forged row',
    });
  });

  it.each([
    ['formula', HOSTILE.formulaCmd, "'=cmd|' /C calc'!A0"],
    ['plus', HOSTILE.plusOne, "'+1"],
    ['minus', HOSTILE.minus, "'-2+3"],
    ['at', HOSTILE.at, "'@SUM(1)"],
    ['tab', HOSTILE.tab, "'\\x09x"],
    ['cr', HOSTILE.cr, "'\\x0dx"],
    ['quotes and commas', HOSTILE.quoteComma, 'say "hi", ok'],
    ['newline', HOSTILE.newline, 'dir\\line1\\x0aline2.txt'],
  ])('neutralises a %s in a wire field', (_name, value, expected) => {
    const [record] = parseCsv(toCsvRow(makeEvent({ path: value })));
    expect(record[EVENT_FIELDS.indexOf('path')]).toBe(expected);
  });

  it('keeps unicode names unchanged', () => {
    for (const name of Object.values(UNICODE)) {
      const [record] = parseCsv(toCsvRow(makeEvent({ path: name })));
      expect(record[EVENT_FIELDS.indexOf('path')]).toBe(name);
    }
  });

  it('writes null as an empty cell and numbers plain', () => {
    const row = toCsvRow(makeEvent({ response_frame: null, user: null, bytes: 0, access: [] }));
    const [record] = parseCsv(row);
    expect(record[EVENT_FIELDS.indexOf('response_frame')]).toBe('');
    expect(record[EVENT_FIELDS.indexOf('user')]).toBe('');
    expect(record[EVENT_FIELDS.indexOf('bytes')]).toBe('0');
    expect(record[EVENT_FIELDS.indexOf('access')]).toBe('');
  });

  it('keeps every record on one physical line with no raw control character', () => {
    const row = toCsvRow(hostileEvent());
    expect(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(row)).toBe(false);
    const text = CSV_HEADER + CSV_EOL + row + CSV_EOL + toCsvRow(makeEvent()) + CSV_EOL;
    expect(text.split('\n')).toHaveLength(4); // three records and the empty tail
    expect(parseCsv(text).map((r) => r.length)).toEqual([EVENT_FIELDS.length, EVENT_FIELDS.length, EVENT_FIELDS.length]);
  });

  it('starts no cell with a formula character', () => {
    const [record] = parseCsv(toCsvRow(hostileEvent()));
    for (const cell of record) expect(/^[\s]*[=+\-@]/.test(cell)).toBe(false);
  });
});
