/**
 * drsuapi (MS-DRSR, uuid e3514235-4b06-11d1-ab04-00c04fc2dcd2): IDL_DRSGetNCChanges from a
 * host that is not a domain controller is DCSync (T1003.006); the call is the signal, the
 * naming context says what was pulled.
 *
 * Request: DRS_HANDLE, dwInVersion, then the DRS_MSG_GETCHGREQ union (tag, arm). The arm's
 * pNC is an embedded [ref] pointer, so its DSNAME is deferred to after the whole arm, and it
 * is the first pointer of the arm, so the DSNAME comes first.
 */
import { MAX_STRING_CHARS, NdrReader } from '../ndr';
import { def, Decoder } from './common';

/**
 * DRS_MSG_GETCHGREQ_V5/V8/V10/V11 after pNC (MS-DRSR 4.1.10.2.4-8): u = ULONG, h = 8-byte
 * (USN, ULARGE_INTEGER), p = pointer, g = GUID. USN_VECTOR is three 8-byte USNs.
 */
const V5_TAIL = 'hhh' + 'p' + 'uuuu' + 'h';
const V8_TAIL = V5_TAIL + 'pp' + 'up';
const TAILS: Record<number, string> = {
  5: V5_TAIL,
  8: V8_TAIL,
  10: V8_TAIL + 'u',
  11: V8_TAIL + 'u' + 'g' + 'p',
};

/** skips the arm, then reads the DSNAME: { structLen; SidLen; Guid; Sid[28]; NameLen; StringName[NameLen+1] } */
function readNc(r: NdrReader, version: number): string | null {
  const tail = TAILS[version];
  if (!tail) return null;
  r.align(8);
  r.guid(); // uuidDsaObjDest
  r.guid(); // uuidInvocIdSrc
  if (r.ptr() === 0) return null;
  for (const f of tail) {
    if (f === 'u') r.u32();
    else if (f === 'h') r.u64();
    else if (f === 'p') r.ptr();
    else r.guid();
  }
  const max = r.count(2);
  r.u32(); // structLen
  r.u32(); // SidLen
  r.guid();
  r.skip(28);
  const nameLen = r.u32();
  if (nameLen + 1 !== max) return null;
  return r.chars(max, 2, MAX_STRING_CHARS);
}

const getNCChanges = def((r, out) => {
  r.contextHandle();
  const version = r.u32();
  out.version = String(version);
  r.unionTag();
  const nc = readNc(r, version);
  if (nc !== null) out.nc = nc;
});

export const DRSUAPI: Record<number, Decoder> = { 3: getNCChanges };
