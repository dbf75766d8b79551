/**
 * DCOM (MS-DCOM, MS-OAUT): which class a client activates remotely and what it asks the object
 * to do. Lateral movement through DCOM (impacket dcomexec, Cobalt Strike's MMC20) activates a
 * class that can run commands — MMC20.Application, ShellWindows, ShellBrowserWindow, Office —
 * and calls IDispatch::Invoke on it with the command line as BSTR arguments.
 *
 * The activation properties (ISystemActivator) are an OBJREF_CUSTOM blob of serialized
 * properties; rather than walk it, the request is searched for the classes that matter, whose
 * GUIDs cannot occur by chance. Invoke's arguments are found by the wire form of a BSTR
 * (FLAGGED_WORD_BLOB: max count n, byte count 2n, count n, then n UTF-16 units), in the call's
 * order (DISPPARAMS holds them last to first); GetIDsOfNames's by that of a [string] wchar_t*.
 */
import { def, Out } from './common';

/** classes used for lateral movement, by their CLSID */
const CLASSES: [string, string][] = [
  ['49b2791a-b1ae-4c90-9b8e-e860ba07f889', 'MMC20.Application'],
  ['9ba05972-f6a8-11cf-a442-00a0c90a8f39', 'ShellWindows'],
  ['c08afd90-f2a1-11d1-8455-00a0c91f3880', 'ShellBrowserWindow'],
  ['00024500-0000-0000-c000-000000000046', 'Excel.Application'],
  ['0006f03a-0000-0000-c000-000000000046', 'Outlook.Application'],
  ['8bc3f05e-d86b-11d0-a075-00c04fb68820', 'WbemLevel1Login (WMI)'],
];

/** a GUID's bytes on the wire (little-endian first three fields) */
function guidBytes(g: string): Buffer {
  const h = g.replace(/-/g, '');
  const b = Buffer.from(h, 'hex');
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}
const KNOWN = CLASSES.map(([g, name]) => ({ g, name, bytes: guidBytes(g) }));

/** ISystemActivator RemoteGetClassObject / RemoteCreateInstance, IActivation RemoteActivation */
export const activation = def((r, out) => {
  const stub = r.bytes(r.remaining);
  const hit = KNOWN.find((k) => stub.includes(k.bytes));
  if (hit) {
    out.clsid = hit.g;
    out.class = hit.name;
  }
});

const MAX_STRINGS = 16;
const MAX_UNITS = 32_768;
const quoted = (xs: string[]): string => xs.map((x) => `"${x}"`).join(', ');

/** units of text taken from one stub in all: the arguments that matter are command lines */
const MAX_TOTAL_UNITS = 64 << 10;

/**
 * BSTRs of a stub: u32 n, u32 byte count (2n, or 2n − 1 for an odd-length BSTR: [MS-OAUT]
 * 2.2.23.1), u32 n, n UTF-16 units; 4-aligned from the stub's start. Empty ones (0, 0, 0) cannot
 * be told from padding and are not listed.
 */
export function bstrs(stub: Buffer): string[] {
  const out: string[] = [];
  let units = 0;
  for (let i = 0; i + 12 <= stub.length && out.length < MAX_STRINGS && units < MAX_TOTAL_UNITS; i += 4) {
    const n = stub.readUInt32LE(i);
    if (n === 0 || n > MAX_UNITS || stub.readUInt32LE(i + 8) !== n || i + 12 + 2 * n > stub.length) continue;
    const bytes = stub.readUInt32LE(i + 4);
    if (bytes !== 2 * n && bytes !== 2 * n - 1) continue;
    // trailing NULs cut by a loop: a regular expression backtracks quadratically on NULs that
    // end in another unit (found in review: 8 s for a hostile 1 MiB stub)
    let end = i + 12 + 2 * Math.min(n, MAX_TOTAL_UNITS - units);
    while (end > i + 12 && stub[end - 1] === 0 && stub[end - 2] === 0) end -= 2;
    out.push(stub.toString('utf16le', i + 12, end));
    units += n;
    i += 8 + ((2 * n + 3) & ~3);
  }
  return out;
}

/** [string] wchar_t* referents: u32 max, u32 offset 0, u32 actual ≤ max, actual UTF-16 units, NUL-terminated */
function wstrings(stub: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i + 12 <= stub.length && out.length < MAX_STRINGS; i += 4) {
    const max = stub.readUInt32LE(i), actual = stub.readUInt32LE(i + 8);
    if (actual < 2 || actual > max || max > MAX_UNITS || stub.readUInt32LE(i + 4) !== 0 || i + 12 + 2 * actual > stub.length) continue;
    if (stub.readUInt16LE(i + 12 + 2 * (actual - 1)) !== 0) continue;
    const s = stub.toString('utf16le', i + 12, i + 10 + 2 * actual);
    if (!/^[\x20-\x7e]+$/.test(s)) continue;
    out.push(s);
    i += 8 + ((2 * actual + 3) & ~3);
  }
  return out;
}

/** IDispatch::Invoke: the BSTR arguments, in the call's order */
const invoke = def((r, out: Out) => {
  const args = bstrs(r.bytes(r.remaining)).reverse();
  if (args.length) out.strings = quoted(args);
});

/** IDispatch::GetIDsOfNames: the member names asked for (ExecuteShellCommand, Document…) */
const getIds = def((r, out: Out) => {
  const names = wstrings(r.bytes(r.remaining));
  if (names.length) out.names = names.join(', ');
});

export const ISYSTEMACTIVATOR = { 3: activation, 4: activation };
export const REMACT = { 0: activation };
export const DISPATCH = { 5: getIds, 6: invoke };
