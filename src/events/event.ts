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
