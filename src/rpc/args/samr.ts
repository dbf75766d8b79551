/**
 * samr (MS-SAMR, uuid 12345778-1234-abcd-ef00-0123456789ac): account discovery and account
 * changes (net user /domain, net user X /add, BloodHound, impacket samrdump/lookupsid).
 */
import { hex32, NdrReader } from '../ndr';
import { countedStrings, def, Decoder, joinCapped, MAX_LIST, ntResult, Out, put } from './common';

function handleResult(key: string): (r: NdrReader, out: Out) => void {
  return (r, out) => {
    out[key] = r.contextHandle();
    ntResult(r, out);
  };
}

/** SamrConnect: PSAMPR_SERVER_NAME is a [unique] pointer to one wchar_t, not a string */
const connect = def((r, out) => {
  if (r.ptr() !== 0) r.u16();
  out.access = hex32(r.u32());
}, handleResult('server_handle'));

/** SamrConnect2/4/5: [unique, string] server name first, then the access mask */
function connectNamed(clientRevision: boolean): Decoder {
  return def((r, out) => {
    put(out, 'server', r.uniqueWString());
    if (clientRevision) r.u32();
    out.access = hex32(r.u32());
  }, handleResult('server_handle'));
}

/** SamrConnect5 answers OutVersion and OutRevisionInfo before the handle */
const connect5 = def(
  (r, out) => {
    put(out, 'server', r.uniqueWString());
    out.access = hex32(r.u32());
  },
  (r, out) => {
    r.u32(); // OutVersion
    r.u32(); // union tag
    r.u32(); // Revision
    r.u32(); // SupportedFeatures
    handleResult('server_handle')(r, out);
  },
);

/** SamrLookupDomainInSamServer: domain name in, its SID out */
const lookupDomain = def(
  (r, out) => {
    out.handle = r.contextHandle();
    put(out, 'domain', r.unicodeString());
  },
  (r, out) => {
    if (r.ptr() !== 0) {
      // a refused lookup may still send an empty SID: not a domain's
      const sid = r.sid();
      if (sid !== 'S-0-0') out.domain_sid = sid;
    }
    ntResult(r, out);
  },
);

/** SamrOpenDomain(ServerHandle, DesiredAccess, [ref] DomainId) */
const openDomain = def((r, out) => {
  out.handle = r.contextHandle();
  out.access = hex32(r.u32());
  out.domain_sid = r.sid();
}, handleResult('domain_handle'));

/**
 * SamrLookupNamesInDomain: Count, then Names[] as a conformant varying array
 * (size_is(1000), length_is(Count)) of RPC_UNICODE_STRING whose buffers follow the array.
 */
const lookupNames = def(
  (r, out) => {
    out.handle = r.contextHandle();
    const count = r.u32();
    r.size(); // max_count (1000)
    const offset = r.size();
    const n = r.size();
    if (offset !== 0 || n !== count || n > r.remaining / 8) return;
    out.names = countedStrings(r, n);
  },
  (r, out) => {
    // RelativeIds: SAMPR_ULONG_ARRAY { Count; [size_is(Count)] unsigned long* Element }
    r.structStart();
    r.u32();
    if (r.ptr() !== 0) {
      const n = r.count(4);
      const rids: string[] = [];
      for (let i = 0; i < n; i++) {
        const rid = r.u32();
        if (i < MAX_LIST) rids.push(String(rid));
      }
      out.rids = joinCapped(rids, n);
    }
  },
);

/** SamrOpenUser / OpenGroup / OpenAlias (DomainHandle, DesiredAccess, Id) */
function openById(handleKey: string): Decoder {
  return def((r, out) => {
    out.handle = r.contextHandle();
    out.access = hex32(r.u32());
    out.rid = String(r.u32());
  }, handleResult(handleKey));
}

/**
 * SAMPR_ENUMERATION_BUFFER answers (EnumDomains, EnumDomainUsers/Groups/Aliases): a pointer to
 * { EntriesRead; [size_is] SAMPR_RID_ENUMERATION* Buffer } whose names are deferred.
 */
function enumNames(key: string): Decoder {
  return def(
    (r, out) => {
      out.handle = r.contextHandle();
    },
    (r, out) => {
      r.u32(); // EnumerationContext, [in, out, ref]: inline
      if (r.ptr() === 0) return;
      r.structStart();
      const entriesRead = r.u32();
      if (r.ptr() === 0) return;
      const n = r.count(12);
      if (n !== entriesRead) return;
      const heads = [];
      for (let i = 0; i < n; i++) {
        r.structStart();
        r.u32(); // RelativeId
        heads.push(r.countedHeader());
      }
      const names: string[] = [];
      for (const h of heads) {
        const s = r.countedBody(h);
        if (s !== null && names.length < MAX_LIST) names.push(s);
      }
      out[key] = joinCapped(names, n);
      r.u32(); // CountReturned
      ntResult(r, out);
    },
  );
}

/** SamrCreateUserInDomain / SamrCreateUser2InDomain: the new account's name */
function createUser(v2: boolean): Decoder {
  return def(
    (r, out) => {
      out.handle = r.contextHandle();
      put(out, 'name', r.unicodeString());
      if (v2) out.account_type = hex32(r.u32());
    },
    (r, out) => {
      out.user_handle = r.contextHandle();
      if (v2) r.u32(); // GrantedAccess
      out.rid = String(r.u32());
      ntResult(r, out);
    },
  );
}

/** SamrAddMemberToGroup(GroupHandle, MemberId, Attributes) */
const addMemberToGroup = def((r, out) => {
  out.handle = r.contextHandle();
  out.rid = String(r.u32());
}, ntResult);

/** SamrAddMemberToAlias(AliasHandle, [ref] MemberId): e.g. into BUILTIN\Administrators */
const addMemberToAlias = def((r, out) => {
  out.handle = r.contextHandle();
  out.member_sid = r.sid();
}, ntResult);

export const SAMR: Record<number, Decoder> = {
  0: connect,
  5: lookupDomain,
  6: enumNames('domains'),
  7: openDomain,
  11: enumNames('groups'),
  12: createUser(false),
  13: enumNames('users'),
  15: enumNames('aliases'),
  17: lookupNames,
  19: openById('group_handle'),
  22: addMemberToGroup,
  27: openById('alias_handle'),
  31: addMemberToAlias,
  34: openById('user_handle'),
  50: createUser(true),
  57: connectNamed(false),
  62: connectNamed(true),
  64: connect5,
};
