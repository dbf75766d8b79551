/** Full SmbEvent objects for detection and story tests, shaped like what the pipeline emits. */
import type { SmbEvent } from '../../src/events/event';
import { applyFlagRules } from '../../src/detect/rules';
import { applyDetections } from '../../src/detect/detections';
import type { CompiledConfig } from '../../src/detect/config';

export const ATTACKER = '10.0.0.5';
export const TARGET = '10.0.0.12';

export function ev(o: Partial<SmbEvent> = {}): SmbEvent {
  return {
    ts: '2024-05-01T10:00:00.000000Z', capture: 'lab.pcap', frame: 1, response_frame: 2,
    src_ip: ATTACKER, src_port: 49700, dst_ip: TARGET, dst_port: 445, smb_dialect: '3.1.1',
    session_id: '0x0000000000000001', user: 'admin', domain: 'CONTOSO', workstation: 'WKS01', action: 'create',
    share: `\\\\${TARGET}\\data`, share_type: 'disk', tree_id: '0x00000001', path: 'x.txt', new_path: null,
    status: 'STATUS_SUCCESS', disposition: 'FILE_OPEN', access: ['READ_DATA'], bytes: null,
    rpc_interface: null, rpc_operation: null, rpc_args: null,
    flags: [], attack: [], severity: 'info', rules: [], summary: null, refs: [], ...o,
  };
}

/** an RPC call on a named pipe of IPC$ (pipe defaults to the interface name) */
export function rpc(iface: string, op: string, args: Record<string, string> | null = null, o: Partial<SmbEvent> = {}): SmbEvent {
  return ev({
    action: 'rpc', share: `\\\\${o.dst_ip ?? TARGET}\\IPC$`, share_type: 'pipe', path: iface.toLowerCase(),
    disposition: null, access: [], rpc_interface: iface, rpc_operation: op, rpc_args: args, ...o,
  });
}

/** an executable put into a share: the CREATE with write access */
export function put(share: string, path: string, o: Partial<SmbEvent> = {}): SmbEvent {
  return ev({ share: `\\\\${o.dst_ip ?? TARGET}\\${share}`, path, disposition: 'FILE_OVERWRITE_IF', access: ['WRITE_DATA', 'SYNCHRONIZE'], ...o });
}

/** a pipe or file opened for reading */
export function open(share: string, path: string, o: Partial<SmbEvent> = {}): SmbEvent {
  return ev({ share: `\\\\${o.dst_ip ?? TARGET}\\${share}`, share_type: share === 'IPC$' ? 'pipe' : 'disk', path, ...o });
}

/** flags, then detections: the order of the pipeline */
export function detect(e: SmbEvent, config?: CompiledConfig): SmbEvent {
  return applyDetections(applyFlagRules(e), config);
}

export function hits(e: SmbEvent, config?: CompiledConfig): string[] {
  return detect(e, config).rules;
}

/** seconds after 2024-05-01T10:00:00Z as an ISO time with microseconds */
export function at(seconds: number): string {
  const base = Date.parse('2024-05-01T10:00:00Z');
  const whole = Math.floor(seconds);
  const micro = Math.round((seconds - whole) * 1e6);
  return new Date(base + whole * 1000).toISOString().slice(0, 19) + '.' + String(micro).padStart(6, '0') + 'Z';
}
