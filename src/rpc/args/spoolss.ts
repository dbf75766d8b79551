/**
 * spoolss (MS-RPRN, uuid 12345678-1234-abcd-ef00-0123456789ab): installing a printer driver,
 * monitor or print processor loads a DLL into the spooler as SYSTEM (PrintNightmare,
 * CVE-2021-1675/34527). The DLL paths are the evidence.
 */
import { NdrReader } from '../ndr';
import { def, Decoder, put, win32Result } from './common';

/**
 * DRIVER_INFO_1/2 and RPC_DRIVER_INFO_3/4/6/8 fixed parts (MS-RPRN 2.2.1.5): d = DWORD,
 * p = [string] pointer, a = [size_is] wchar array pointer (multi-sz), h = 8-byte integer.
 * The first five pointers (name, environment, driver, data file, config file) are deferred
 * first, in that order.
 */
const D3 = 'dppppppppda';
const DRIVER_LAYOUT: Record<number, string> = {
  1: 'p',
  2: 'dppppp',
  3: D3,
  4: `${D3}da`,
  6: `${D3}dadd` + 'h' + 'pppp',
  8: `${D3}dadd` + 'h' + 'pppp' + 'ppdapddadd' + 'h',
};
const DRIVER_KEYS = ['driver_name', 'environment', 'driver_path', 'data_file', 'config_file', 'help_file'];

/** the referent of a DRIVER_CONTAINER's union arm, as keys */
function driverInfo(r: NdrReader, level: number, out: Record<string, string>): void {
  const layout = DRIVER_LAYOUT[level];
  if (!layout) return;
  r.align(layout.includes('h') ? 8 : r.structAlign(4));
  const ptrs: [string, number][] = [];
  for (const f of layout) {
    if (f === 'd') r.u32();
    else if (f === 'h') r.u64();
    else ptrs.push([f, r.ptr()]);
  }
  ptrs.forEach(([kind, p], i) => {
    if (p === 0) return;
    if (kind === 'a') {
      r.skip(2 * r.count(2));
      return;
    }
    const s = r.wstring();
    const key = DRIVER_KEYS[i];
    if (key) out[key] = s;
  });
}

/** RpcAddPrinterDriver(Ex): pName, DRIVER_CONTAINER { Level; union tag; pointer arm }, [flags] */
function addDriver(ex: boolean): Decoder {
  return def((r, out) => {
    put(out, 'server', r.uniqueWString());
    r.structStart();
    const level = r.u32();
    out.level = String(level);
    r.unionTag();
    if (r.ptr() !== 0) driverInfo(r, level, out);
    if (ex) out.flags = `0x${r.u32().toString(16)}`;
  }, win32Result);
}

/** RpcAddMonitor(Name, MONITOR_CONTAINER): MONITOR_INFO_2 { pName; pEnvironment; pDLLName } */
const addMonitor = def((r, out) => {
  put(out, 'server', r.uniqueWString());
  r.structStart();
  const level = r.u32();
  r.unionTag();
  if (r.ptr() === 0 || (level !== 1 && level !== 2)) return;
  const ptrs = level === 1 ? [r.ptr()] : [r.ptr(), r.ptr(), r.ptr()];
  const keys = ['monitor', 'environment', 'dll'];
  ptrs.forEach((p, i) => {
    if (p !== 0) out[keys[i]] = r.wstring();
  });
}, win32Result);

/** RpcAddPrintProcessor(pName, pEnvironment, pPathName, pPrintProcessorName) */
const addPrintProcessor = def((r, out) => {
  put(out, 'server', r.uniqueWString());
  out.environment = r.wstring();
  out.path = r.wstring();
  out.print_processor = r.wstring();
}, win32Result);

/** RpcOpenPrinter(Ex): the printer (or server) name comes first */
const openPrinter = def((r, out) => {
  put(out, 'printer', r.uniqueWString());
});

export const SPOOLSS: Record<number, Decoder> = {
  1: openPrinter,
  9: addDriver(false),
  14: addPrintProcessor,
  46: addMonitor,
  69: openPrinter,
  89: addDriver(true),
};
