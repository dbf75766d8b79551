/**
 * One SMB action, in the spirit of MITRE CAR-2013-01-003: source, destination, content and
 * time of each event. The field order here is the column order of CSV and the key order of JSON.
 */
export type Action =
  | 'session_setup'
  | 'tree_connect'
  | 'create'
  | 'read'
  | 'write'
  | 'rename'
  | 'delete'
  | 'encrypted'
  /** one DCE/RPC call on a named pipe (request + response or fault) */
  | 'rpc'
  /** a correlated chain of events (admin-share write → service/task → execution pipes) */
  | 'story';

export type Severity = 'info' | 'low' | 'medium' | 'high';

export interface SmbEvent {
  /** ISO 8601 UTC with the capture's full precision, e.g. 2023-06-30T12:49:11.369218Z */
  ts: string;
  /** capture file as given on the command line (or found under a given directory) */
  capture: string;
  /** 1-based frame that completes the request message */
  frame: number;
  /** frame that completes the response, null when none was seen */
  response_frame: number | null;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  /** "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1", "NT LM 0.12"…, null when the NEGOTIATE was not seen */
  smb_dialect: string | null;
  /** "0x" + 16 hex digits */
  session_id: string | null;
  user: string | null;
  domain: string | null;
  workstation: string | null;
  action: Action;
  /** UNC path as the client sent it, e.g. \\10.0.0.12\ADMIN$ ; null when the TREE_CONNECT was not seen */
  share: string | null;
  share_type: 'disk' | 'pipe' | 'print' | null;
  /** "0x" + 8 hex digits */
  tree_id: string | null;
  /** relative to the share, no leading backslash, "" for the share root */
  path: string | null;
  /** rename target */
  new_path: string | null;
  /** NT status name, or 0x-hex when unnamed; null when no response was seen */
  status: string | null;
  /** CREATE disposition name (FILE_OPEN, FILE_CREATE, …) */
  disposition: string | null;
  /** access right names from the CREATE DesiredAccess */
  access: string[];
  /** read/write: total bytes for the handle */
  bytes: number | null;
  /** rpc: interface name (svcctl, atsvc, …) or the UUID when unknown */
  rpc_interface: string | null;
  /** rpc: operation name (CreateServiceW, …) or "opnum N" when unknown */
  rpc_operation: string | null;
  /** rpc: the arguments that matter, decoded from NDR (service name, binary path, command, key…) */
  rpc_args: Record<string, string> | null;
  flags: string[];
  attack: string[];
  severity: Severity;
  /** detection rule ids this event matched (see src/detect) */
  rules: string[];
  /** story: one line that says what happened; rpc: a short description of the call */
  summary: string | null;
  /** story: the events it ties together, as "capture#frame" */
  refs: string[];
}

/** Column order shared by CSV and JSON lines. */
export const EVENT_FIELDS: readonly (keyof SmbEvent)[] = [
  'ts', 'capture', 'frame', 'response_frame', 'src_ip', 'src_port', 'dst_ip', 'dst_port',
  'smb_dialect', 'session_id', 'user', 'domain', 'workstation', 'action', 'share', 'share_type',
  'tree_id', 'path', 'new_path', 'status', 'disposition', 'access', 'bytes', 'rpc_interface',
  'rpc_operation', 'rpc_args', 'flags', 'attack', 'severity', 'rules', 'summary', 'refs',
] as const;

/**
 * An event's values in EVENT_FIELDS order, into `out` (the writers reuse one array). Field by
 * field, because a loop reading e[EVENT_FIELDS[i]] is a keyed load with 32 different keys, which
 * V8 serves by a lookup per field: measured with --cpu-prof on the metadata capture, that loop
 * was the largest single cost of a scan writing JSON lines.
 */
export function eventValues(e: SmbEvent, out: unknown[]): void {
  out[0] = e.ts; out[1] = e.capture; out[2] = e.frame; out[3] = e.response_frame;
  out[4] = e.src_ip; out[5] = e.src_port; out[6] = e.dst_ip; out[7] = e.dst_port;
  out[8] = e.smb_dialect; out[9] = e.session_id; out[10] = e.user; out[11] = e.domain;
  out[12] = e.workstation; out[13] = e.action; out[14] = e.share; out[15] = e.share_type;
  out[16] = e.tree_id; out[17] = e.path; out[18] = e.new_path; out[19] = e.status;
  out[20] = e.disposition; out[21] = e.access; out[22] = e.bytes; out[23] = e.rpc_interface;
  out[24] = e.rpc_operation; out[25] = e.rpc_args; out[26] = e.flags; out[27] = e.attack;
  out[28] = e.severity; out[29] = e.rules; out[30] = e.summary; out[31] = e.refs;
}
