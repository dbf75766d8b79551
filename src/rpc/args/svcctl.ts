/**
 * svcctl (MS-SCMR, uuid 367abb81-9844-35f1-ad32-98f038001003): the service-control calls that
 * remote execution goes through (PsExec, impacket psexec/smbexec, sc.exe \\host create).
 * Opnums and parameter order from MS-SCMR 3.1.4; A variants take 8-bit strings, W variants
 * UTF-16, with the same layout.
 */
import { hex32, NdrReader } from '../ndr';
import { def, Decoder, Out, put, win32Result } from './common';

const START_TYPES = ['BOOT', 'SYSTEM', 'AUTO', 'DEMAND', 'DISABLED'];
/** SERVICE_NO_CHANGE: ChangeServiceConfig leaves that setting alone */
const NO_CHANGE = 0xffffffff;

export const startTypeName = (v: number): string => START_TYPES[v] ?? hex32(v);

const CONTROLS: Record<number, string> = {
  1: 'STOP',
  2: 'PAUSE',
  3: 'CONTINUE',
  4: 'INTERROGATE',
  5: 'SHUTDOWN',
  6: 'PARAMCHANGE',
  7: 'NETBINDADD',
  8: 'NETBINDREMOVE',
  9: 'NETBINDENABLE',
  10: 'NETBINDDISABLE',
};

type Str = (r: NdrReader) => string;
type UStr = (r: NdrReader) => string | null;
const W: [Str, UStr] = [(r) => r.wstring(), (r) => r.uniqueWString()];
const A: [Str, UStr] = [(r) => r.cstring(), (r) => r.uniqueCString()];

/** [in, unique, size_is(n)] LPBYTE: referent, then a conformant byte array */
function skipUniqueBytes(r: NdrReader): void {
  if (r.ptr() !== 0) r.skip(r.count(1));
}

/** [in, out, unique] LPDWORD */
function skipUniqueDword(r: NdrReader): void {
  if (r.ptr() !== 0) r.u32();
}

function createService([str, ustr]: [Str, UStr]): Decoder {
  return def(
    (r, out) => {
      out.handle = r.contextHandle();
      out.service_name = str(r);
      put(out, 'display_name', ustr(r));
      r.u32(); // dwDesiredAccess
      out.service_type = hex32(r.u32());
      out.start_type = startTypeName(r.u32());
      r.u32(); // dwErrorControl
      out.binary_path = str(r);
      ustr(r); // lpLoadOrderGroup
      skipUniqueDword(r);
      skipUniqueBytes(r); // lpDependencies
      r.u32();
      put(out, 'account', ustr(r)); // lpServiceStartName: who the service runs as
    },
    (r, out) => {
      skipUniqueDword(r); // lpdwTagId
      out.service_handle = r.contextHandle();
      win32Result(r, out);
    },
  );
}

function openSCManager([, ustr]: [Str, UStr]): Decoder {
  return def(
    (r, out) => {
      put(out, 'machine_name', ustr(r));
      put(out, 'database', ustr(r));
    },
    (r, out) => {
      out.scm_handle = r.contextHandle();
      win32Result(r, out);
    },
  );
}

function openService([str]: [Str, UStr]): Decoder {
  return def(
    (r, out) => {
      out.handle = r.contextHandle();
      out.service_name = str(r);
    },
    (r, out) => {
      out.service_handle = r.contextHandle();
      win32Result(r, out);
    },
  );
}

/** argv: [unique, size_is(argc)] pointer to an array of [string, unique] pointers */
function startService([str]: [Str, UStr]): Decoder {
  return def(
    (r, out) => {
      out.handle = r.contextHandle();
      const argc = r.u32();
      if (r.ptr() === 0 || argc === 0) return;
      const n = r.count(4);
      const ptrs: number[] = [];
      for (let i = 0; i < n; i++) ptrs.push(r.ptr());
      const args: string[] = [];
      for (const p of ptrs) if (p !== 0) args.push(str(r));
      out.argv = args.join(' ');
    },
    (r, out) => win32Result(r, out),
  );
}

function changeServiceConfig([, ustr]: [Str, UStr]): Decoder {
  return def(
    (r, out) => {
      out.handle = r.contextHandle();
      const type = r.u32();
      const start = r.u32();
      if (type !== NO_CHANGE) out.service_type = hex32(type);
      if (start !== NO_CHANGE) out.start_type = startTypeName(start);
      r.u32(); // dwErrorControl
      put(out, 'binary_path', ustr(r));
      ustr(r); // lpLoadOrderGroup
      skipUniqueDword(r);
      skipUniqueBytes(r);
      r.u32();
      put(out, 'account', ustr(r));
      skipUniqueBytes(r); // lpPassword (encrypted with the session key; never shown)
      r.u32();
      put(out, 'display_name', ustr(r));
    },
    (r, out) => {
      skipUniqueDword(r);
      win32Result(r, out);
    },
  );
}

const handleOnly: Decoder = def(
  (r, out) => {
    out.handle = r.contextHandle();
  },
  (r, out) => win32Result(r, out),
);

const controlService: Decoder = def(
  (r, out) => {
    out.handle = r.contextHandle();
    const c = r.u32();
    out.control = CONTROLS[c] ?? hex32(c);
  },
  (r, out: Out) => {
    r.skip(28); // SERVICE_STATUS
    win32Result(r, out);
  },
);

export const SVCCTL: Record<number, Decoder> = {
  1: controlService,
  2: handleOnly,
  11: changeServiceConfig(W),
  12: createService(W),
  15: openSCManager(W),
  16: openService(W),
  19: startService(W),
  23: changeServiceConfig(A),
  24: createService(A),
  27: openSCManager(A),
  28: openService(A),
  31: startService(A),
  // RCreateServiceWOW64A/W: CreateService's layout; Sysinternals PsExec uses 45
  44: createService(A),
  45: createService(W),
  // RCreateWowService: CreateServiceW plus a trailing USHORT, not needed for the keys
  60: createService(W),
};
