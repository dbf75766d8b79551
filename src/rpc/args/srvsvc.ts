/**
 * srvsvc (MS-SRVS, uuid 4b324fc8-1670-01d3-1278-5a47bf6ee188) and wkssvc (MS-WKST): share,
 * session and host discovery (net view, net share, net session, BloodHound's session
 * collection, impacket's share enumeration before psexec).
 */
import { NdrReader } from '../ndr';
import { def, Decoder, joinCapped, MAX_LIST, put, win32Result } from './common';

/**
 * SHARE_INFO_0/1/2/501/502 as the pointer count and the DWORDs between them (MS-SRVS 2.2.4.22-26);
 * each entry's strings are deferred after the whole array, in member order.
 */
const SHARE_LAYOUT: Record<number, ('p' | 'd')[]> = {
  0: ['p'],
  1: ['p', 'd', 'p'],
  2: ['p', 'd', 'p', 'd', 'd', 'd', 'p', 'p'],
  501: ['p', 'd', 'p', 'd'],
  502: ['p', 'd', 'p', 'd', 'd', 'd', 'p', 'p', 'd', 'p'],
};
/** index of shi*_path among the pointers of levels 2 and 502 */
const PATH_PTR = 2;
/** shi502_security_descriptor: a byte array, not a string */
const SD_PTR = 4;

interface Share {
  name: string | null;
  path: string | null;
}

/** fixed parts of `n` entries, then their deferred referents (strings, and 502's descriptor) */
function readShares(r: NdrReader, level: number, n: number): Share[] {
  const layout = SHARE_LAYOUT[level];
  const entries: number[][] = [];
  for (let i = 0; i < n; i++) {
    const ptrs: number[] = [];
    for (const f of layout) {
      if (f === 'p') ptrs.push(r.ptr());
      else r.u32();
    }
    entries.push(ptrs);
  }
  const shares: Share[] = [];
  for (const ptrs of entries) {
    const s: Share = { name: null, path: null };
    ptrs.forEach((p, k) => {
      if (p === 0) return;
      if (level === 502 && k === SD_PTR) {
        r.skip(r.count(1));
        return;
      }
      const v = r.wstring();
      if (k === 0) s.name = v;
      else if (k === PATH_PTR && (level === 2 || level === 502)) s.path = v;
    });
    shares.push(s);
  }
  return shares;
}

/** InfoStruct of NetrShareEnum: Level, then the union's tag and arm (a container pointer) */
const shareEnum = def(
  (r, out) => {
    put(out, 'server', r.uniqueWString());
    r.structStart();
    out.level = String(r.u32());
  },
  (r, out) => {
    const level = r.u32();
    r.unionTag(); // equal to Level
    if (r.ptr() === 0 || !(level in SHARE_LAYOUT)) return;
    r.structStart();
    const entriesRead = r.u32();
    if (r.ptr() === 0) return;
    const n = r.count(4 * SHARE_LAYOUT[level].length);
    if (n !== entriesRead) return;
    const shares = readShares(r, level, n);
    const names = shares.slice(0, MAX_LIST).map((s) => s.name ?? '');
    out.share_count = String(n);
    out.shares = joinCapped(names, n);
    r.u32(); // TotalEntries
    if (r.ptr() !== 0) r.u32(); // ResumeHandle
    win32Result(r, out);
  },
);

const shareGetInfo = def(
  (r, out) => {
    put(out, 'server', r.uniqueWString());
    out.share = r.wstring();
    out.level = String(r.u32());
  },
  (r, out) => {
    const level = r.unionTag();
    if (r.ptr() === 0 || !(level in SHARE_LAYOUT)) return;
    const [s] = readShares(r, level, 1);
    put(out, 'path', s.path);
    win32Result(r, out);
  },
);

/** NetrShareAdd(ServerName, Level, InfoStruct, ParmErr): a new share and the folder it exposes */
const shareAdd = def(
  (r, out) => {
    put(out, 'server', r.uniqueWString());
    const level = r.u32();
    out.level = String(level);
    r.unionTag();
    if (r.ptr() === 0 || !(level in SHARE_LAYOUT)) return;
    const [s] = readShares(r, level, 1);
    put(out, 'share', s.name);
    put(out, 'path', s.path);
  },
  (r, out) => {
    if (r.ptr() !== 0) r.u32(); // ParmErr
    win32Result(r, out);
  },
);

const shareDel = def((r, out) => {
  put(out, 'server', r.uniqueWString());
  out.share = r.wstring();
}, win32Result);

/** ServerName, optional strings, then the InfoStruct whose Level is all we keep */
function enumWith(...names: string[]): Decoder {
  return def((r, out) => {
    put(out, 'server', r.uniqueWString());
    for (const n of names) put(out, n, r.uniqueWString());
    r.structStart(); // InfoStruct { Level; union }
    out.level = String(r.u32());
  });
}

export const SRVSVC: Record<number, Decoder> = {
  8: enumWith('qualifier'), // NetrConnectionEnum
  9: enumWith('path', 'user'), // NetrFileEnum
  12: enumWith('client', 'user'), // NetrSessionEnum
  14: shareAdd,
  15: shareEnum, // NetrShareEnum (tshark: NetShareEnumAll)
  16: shareGetInfo,
  18: shareDel,
  21: enumWith(), // NetrServerGetInfo
};

/** wkssvc: NetrWkstaGetInfo (0) and NetrWkstaUserEnum (2) name the server and the level */
export const WKSSVC: Record<number, Decoder> = {
  0: enumWith(),
  2: enumWith(),
};
