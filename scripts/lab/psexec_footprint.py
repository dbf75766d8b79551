#!/usr/bin/python3
"""PsExec-footprint scenario, written with impacket's library (run by run.sh in the client namespace).

Reproduces what Sysinternals PsExec puts on the wire: PSEXESVC.exe written to ADMIN$, svcctl
OpenSCManagerW + CreateServiceW("PSEXESVC", "%SystemRoot%\\PSEXESVC.exe") + StartServiceW over
IPC$, then the PSEXESVC pipe and PSEXESVC-<HOST>-<PID>-stdin/stdout/stderr pipes opened on IPC$.
Samba cannot run a service: the RPC faults and failed pipe opens are expected and harmless; the
wire traffic is what matters.
usage: psexec_footprint.py SERVER_NAME SERVER_IP DOMAIN USER PASSWORD CLIENT_NAME PID
"""
import io
import sys

from impacket.smbconnection import SMBConnection
from impacket.dcerpc.v5 import transport, scmr
from impacket.smb3structs import FILE_READ_DATA, FILE_WRITE_DATA, FILE_OPEN, FILE_SHARE_READ, FILE_SHARE_WRITE
from labrpc import exe_bytes, step

srv, ip, dom, user, pw, host, pid = sys.argv[1:8]


conn = SMBConnection(srv, ip, myName=host)
conn.login(user, pw, dom)
data = io.BytesIO(exe_bytes('PSEXESVC'))
step('put ADMIN$\\PSEXESVC.exe', conn.putFile, 'ADMIN$', 'PSEXESVC.exe', data.read)

rpc = transport.SMBTransport(ip, filename=r'\svcctl', smb_connection=conn)
dce = rpc.get_dce_rpc()
dce.connect()
dce.bind(scmr.MSRPC_UUID_SCMR)
r = step('OpenSCManagerW', scmr.hROpenSCManagerW, dce, srv + '\x00', 'ServicesActive\x00',
         0xF003F)  # SC_MANAGER_ALL_ACCESS
if r is not None:
    scm = r['lpScHandle']
    c = step('CreateServiceW PSEXESVC', scmr.hRCreateServiceW, dce, scm, 'PSEXESVC\x00', 'PSEXESVC\x00',
             lpBinaryPathName='%SystemRoot%\\PSEXESVC.exe\x00', dwStartType=scmr.SERVICE_DEMAND_START)
    o = step('OpenServiceW PSEXESVC', scmr.hROpenServiceW, dce, scm, 'PSEXESVC\x00')
    if o is not None:
        svc = o['lpServiceHandle']
        step('StartServiceW PSEXESVC', scmr.hRStartServiceW, dce, svc)
        step('CloseServiceHandle', scmr.hRCloseServiceHandle, dce, svc)
    step('CloseServiceHandle scm', scmr.hRCloseServiceHandle, dce, scm)
dce.disconnect()

tid = conn.connectTree('IPC$')
for name in ['PSEXESVC', 'PSEXESVC-%s-%s-stdin' % (host, pid), 'PSEXESVC-%s-%s-stdout' % (host, pid),
             'PSEXESVC-%s-%s-stderr' % (host, pid)]:
    fid = step('open pipe ' + name, conn.openFile, tid, name, FILE_READ_DATA | FILE_WRITE_DATA,
               FILE_SHARE_READ | FILE_SHARE_WRITE, 0, FILE_OPEN, 0)
    if fid is not None:
        step('close', conn.closeFile, tid, fid)
conn.disconnectTree(tid)
step('delete ADMIN$\\PSEXESVC.exe', conn.deleteFile, 'ADMIN$', 'PSEXESVC.exe')
conn.logoff()
