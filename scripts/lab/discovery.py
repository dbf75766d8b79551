#!/usr/bin/python3
"""Share and account discovery with impacket's library (run by run.sh in the client namespace):
wkssvc NetrWkstaGetInfo, samr domain/user/group/alias enumeration, lsarpc policy query and
SID -> name lookups (RID cycling over a few well-known RIDs).
usage: discovery.py SERVER_NAME SERVER_IP DOMAIN USER PASSWORD CLIENT_NAME
"""
import sys

from impacket.smbconnection import SMBConnection
from impacket.dcerpc.v5 import transport, srvs, wkst, samr, lsad, lsat
from labrpc import bind as bind_pipe, step

srv, ip, dom, user, pw, host = sys.argv[1:7]


conn = SMBConnection(srv, ip, myName=host)
conn.login(user, pw, dom)


def bind(pipe, uuid):
    return bind_pipe(conn, ip, pipe, uuid)


d = bind(r'\srvsvc', srvs.MSRPC_UUID_SRVS)
r = step('NetShareEnumAll', srvs.hNetrShareEnum, d, 1)
if r:
    for s in r['InfoStruct']['ShareInfo']['Level1']['Buffer']:
        print('   share', s['shi1_netname'][:-1])
step('NetrServerGetInfo', srvs.hNetrServerGetInfo, d, 101)
d.disconnect()

d = bind(r'\wkssvc', wkst.MSRPC_UUID_WKST)
step('NetrWkstaGetInfo', wkst.hNetrWkstaGetInfo, d, 100)
d.disconnect()

d = bind(r'\samr', samr.MSRPC_UUID_SAMR)
r = step('SamrConnect', samr.hSamrConnect, d)
if r:
    sh = r['ServerHandle']
    doms = step('SamrEnumerateDomainsInSamServer', samr.hSamrEnumerateDomainsInSamServer, d, sh)
    for e in (doms['Buffer']['Buffer'] if doms else []):
        name = e['Name']
        lr = step('SamrLookupDomainInSamServer ' + name, samr.hSamrLookupDomainInSamServer, d, sh, name)
        if not lr:
            continue
        od = step('SamrOpenDomain', samr.hSamrOpenDomain, d, sh, domainId=lr['DomainId'])
        if not od:
            continue
        dh = od['DomainHandle']
        u = step('SamrEnumerateUsersInDomain', samr.hSamrEnumerateUsersInDomain, d, dh)
        for x in (u['Buffer']['Buffer'] if u else []):
            print('   user', name, x['Name'], x['RelativeId'])
        step('SamrEnumerateGroupsInDomain', samr.hSamrEnumerateGroupsInDomain, d, dh)
        step('SamrEnumerateAliasesInDomain', samr.hSamrEnumerateAliasesInDomain, d, dh)
        step('SamrCloseHandle domain', samr.hSamrCloseHandle, d, dh)
    step('SamrCloseHandle server', samr.hSamrCloseHandle, d, sh)
d.disconnect()

d = bind(r'\lsarpc', lsat.MSRPC_UUID_LSAT)
r = step('LsarOpenPolicy2', lsad.hLsarOpenPolicy2, d, lsad.MAXIMUM_ALLOWED | lsat.POLICY_LOOKUP_NAMES)
if r:
    ph = r['PolicyHandle']
    q = step('LsarQueryInformationPolicy', lsad.hLsarQueryInformationPolicy, d, ph,
             lsad.POLICY_INFORMATION_CLASS.PolicyAccountDomainInformation)
    if q:
        sid = q['PolicyInformation']['PolicyAccountDomainInfo']['DomainSid'].formatCanonical()
        lk = step('LsarLookupSids', lsat.hLsarLookupSids, d, ph, ['%s-%d' % (sid, rid) for rid in (500, 501, 512, 1000, 1001)])
        if lk:
            for n in lk['TranslatedNames']['Names']:
                print('   sid name', n['Name'])
    step('LsarClose', lsad.hLsarClose, d, ph)
d.disconnect()
conn.logoff()
