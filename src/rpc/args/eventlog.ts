/**
 * eventlog (MS-EVEN, uuid 82273fdc-e32a-18c3-3f78-827929dc23ea): clearing or backing up a log
 * remotely (wevtutil cl /r, Clear-EventLog -ComputerName) is an anti-forensics signal (T1070.001).
 * Log names are RPC_UNICODE_STRINGs (RPC_STRINGs, 8-bit, in the A variants).
 */
import { NdrReader } from '../ndr';
import { def, Decoder, ntResult, put } from './common';

/** EVENTLOG_HANDLE_W/A: a [unique] pointer to one character, never a string on the wire */
function skipServer(r: NdrReader, size: 1 | 2): void {
  if (r.ptr() !== 0) {
    if (size === 2) r.u16();
    else r.u8();
  }
}

/** ElfrClearELFW/A: the log handle, then an optional [unique] backup file name */
function clear(size: 1 | 2): Decoder {
  return def((r, out) => {
    out.handle = r.contextHandle();
    if (r.ptr() !== 0) put(out, 'backup_file', r.countedBody(r.countedHeader(), size));
  }, ntResult);
}

/** ElfrBackupELFW: the log handle, then a [ref] file name */
const backup = def((r, out) => {
  out.handle = r.contextHandle();
  put(out, 'backup_file', r.unicodeString());
}, ntResult);

/** ElfrOpenELW/A, ElfrRegisterEventSourceW, ElfrOpenBELW: server, then the log, source or file name */
function open(size: 1 | 2, key: string): Decoder {
  return def(
    (r, out) => {
      skipServer(r, size);
      put(out, key, r.countedBody(r.countedHeader(), size));
    },
    (r, out) => {
      out.log_handle = r.contextHandle();
      ntResult(r, out);
    },
  );
}

export const EVENTLOG: Record<number, Decoder> = {
  0: clear(2),
  1: backup,
  7: open(2, 'module_name'),
  8: open(2, 'module_name'),
  9: open(2, 'backup_file'),
  12: clear(1),
  14: open(1, 'module_name'),
};
