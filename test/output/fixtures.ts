import { SmbEvent } from '../../src/events/event';

/** A plain, well-formed event; tests override the fields they care about. */
export function makeEvent(overrides: Partial<SmbEvent> = {}): SmbEvent {
  return {
    ts: '2023-06-30T12:49:11.369218Z',
    capture: 'captures/psexec.pcap',
    frame: 42,
    response_frame: 43,
    src_ip: '10.0.0.5',
    src_port: 49722,
    dst_ip: '10.0.0.12',
    dst_port: 445,
    smb_dialect: '3.1.1',
    session_id: '0x0000100000000009',
    user: 'administrator',
    domain: 'CORP',
    workstation: 'WS01',
    action: 'create',
    share: '\\\\10.0.0.12\\ADMIN$',
    share_type: 'disk',
    tree_id: '0x00000005',
    path: 'PSEXESVC.exe',
    new_path: null,
    status: 'STATUS_SUCCESS',
    disposition: 'FILE_OVERWRITE_IF',
    access: ['FILE_WRITE_DATA', 'SYNCHRONIZE'],
    bytes: null,
    rpc_interface: null,
    rpc_operation: null,
    rpc_args: null,
    flags: ['ADMIN_SHARE', 'PSEXESVC', 'EXECUTABLE_WRITE'],
    attack: ['T1021.002', 'T1570', 'T1569.002'],
    severity: 'high',
    rules: [],
    summary: null,
    refs: [],
    ...overrides,
  };
}

/** Strings an attacker can put on the wire (user, domain, share, file names…). */
export const HOSTILE = {
  sgr: '\x1b[31mred\x1b[0m',
  osc: '\x1b]0;pwned title\x07',
  bidi: 'invoice\u202egpj.exe',
  nul: 'a\x00b',
  newline: 'dir\\line1\nline2.txt',
  crlf: 'fake\r\n2023-01-01 forged row',
  c1: 'csi\u009b31m',
  lineSep: 'x\u2028y\u2029z',
  formulaCmd: "=cmd|' /C calc'!A0",
  plusOne: '+1',
  minus: '-2+3',
  at: '@SUM(1)',
  tab: '\tx',
  cr: '\rx',
  quoteComma: 'say "hi", ok',
  loneSurrogate: 'bad\ud800name',
} as const;

/** Names that are perfectly legitimate and must come out unchanged everywhere. */
export const UNICODE = {
  accent: 'résumé.docx',
  cjk: '日本語のファイル.txt',
  emoji: 'party 🎉😀.txt',
  family: 'fam 👨‍👩‍👧.txt',
  combining: 'cafe\u0301.txt',
} as const;

/** An event with a hostile string in every wire field. */
export function hostileEvent(): SmbEvent {
  return makeEvent({
    capture: 'evil,"capture".pcap',
    smb_dialect: HOSTILE.plusOne,
    user: HOSTILE.sgr,
    domain: HOSTILE.formulaCmd,
    workstation: HOSTILE.osc,
    share: '\\\\10.0.0.12\\' + HOSTILE.at,
    path: HOSTILE.newline + HOSTILE.bidi,
    new_path: HOSTILE.crlf,
    action: 'rename',
    status: HOSTILE.minus,
    disposition: HOSTILE.tab,
    access: [HOSTILE.cr, HOSTILE.nul],
    rpc_args: { service: HOSTILE.sgr, binary_path: HOSTILE.formulaCmd },
    summary: HOSTILE.crlf,
  });
}
