/**
 * lsarpc (MS-LSAT / MS-LSAD, uuid 12345778-1234-abcd-ef00-0123456789ab): name and SID
 * translation (lookupsid.py RID cycling, net user /domain, BloodHound) and policy handles.
 */
import { NdrReader } from '../ndr';
import { countedStrings, def, Decoder, joinCapped, MAX_LIST, ntResult, Out, put } from './common';

/**
 * [in, size_is(Count)] PRPC_UNICODE_STRING Names: a top-level [ref] pointer, so no referent id;
 * a conformant array of headers, then their buffers
 */
function readNames(r: NdrReader, out: Out): void {
  const count = r.u32();
  const n = r.count(8);
  if (n !== count) return;
  out.names = countedStrings(r, n);
}

/** LsarLookupNames/2/3 (PolicyHandle first); LsarLookupNames4 has no handle on the wire */
function lookupNames(withHandle: boolean): Decoder {
  return def((r, out) => {
    if (withHandle) out.handle = r.contextHandle();
    readNames(r, out);
  });
}

/**
 * LsarLookupSids/2/3: LSAPR_SID_ENUM_BUFFER { Entries; [size_is(Entries)] SidInfo* }, each
 * SidInfo a [unique] RPC_SID pointer whose SID follows the array.
 */
function lookupSids(withHandle: boolean): Decoder {
  return def((r, out) => {
    if (withHandle) out.handle = r.contextHandle();
    r.structStart();
    const entries = r.u32();
    if (r.ptr() === 0) return;
    const n = r.count(4);
    if (n !== entries) return;
    out.sid_count = String(n);
    const ptrs: number[] = [];
    for (let i = 0; i < n; i++) ptrs.push(r.ptr());
    const sids: string[] = [];
    for (const p of ptrs) {
      if (p === 0) continue;
      const sid = r.sid();
      if (sids.length < MAX_LIST) sids.push(sid);
    }
    out.sids = joinCapped(sids, n);
  });
}

const openPolicy2 = def(
  (r, out) => {
    put(out, 'system_name', r.uniqueWString());
  },
  (r, out) => {
    out.policy_handle = r.contextHandle();
    ntResult(r, out);
  },
);

/** LsarOpenPolicy: SystemName is a [unique] pointer to a single wchar_t */
const openPolicy = def(undefined, (r, out) => {
  out.policy_handle = r.contextHandle();
  ntResult(r, out);
});

/** LsarGetUserName: the account the caller is connected as, from the answer */
const getUserName = def(
  (r, out) => {
    put(out, 'system_name', r.uniqueWString());
  },
  (r, out) => {
    if (r.ptr() !== 0) put(out, 'user', r.unicodeString());
    if (r.ptr() !== 0 && r.ptr() !== 0) put(out, 'domain', r.unicodeString());
    ntResult(r, out);
  },
);

export const LSARPC: Record<number, Decoder> = {
  6: openPolicy,
  14: lookupNames(true),
  15: lookupSids(true),
  44: openPolicy2,
  45: getUserName,
  57: lookupSids(true),
  58: lookupNames(true),
  68: lookupNames(true),
  76: lookupSids(false),
  77: lookupNames(false),
};
