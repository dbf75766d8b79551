#!/usr/bin/python3
"""PsExec-clone footprints, written with impacket's library (run by run.sh in the client namespace).

What PAExec, RemCom and CSExec put on the wire, one tool after the other, each on its own SMB
connection: the service binary written to ADMIN$, svcctl OpenSCManagerW + CreateServiceW (+
StartServiceW) over IPC$, the tool's named pipes opened on IPC$, the binary deleted. Names follow
the tools' public documentation and source: PAExec copies itself as PAExec-<PID>-<HOST>.exe and
names its service the same; RemCom installs RemComSvc (RemComSvc.exe) and talks over
RemCom_communicaton and RemCom_std{in,out,err}<HOST><PID>; CSExec installs csexecsvc
(csexecsvc.exe) with a csexecsvc pipe. Samba cannot run a service: the RPC faults and failed pipe
opens are expected; the wire traffic is what matters.
usage: clone_footprints.py SERVER_NAME SERVER_IP DOMAIN USER PASSWORD CLIENT_NAME PID
"""
import io
import sys

from impacket.smbconnection import SMBConnection
from impacket.dcerpc.v5 import transport, scmr
from impacket.smb3structs import FILE_READ_DATA, FILE_WRITE_DATA, FILE_OPEN, FILE_SHARE_READ, FILE_SHARE_WRITE
from labrpc import exe_bytes, step

srv, ip, dom, user, pw, host, pid = sys.argv[1:8]


TOOLS = [
    # (binary in ADMIN$, service name, binary path, pipes)
    ('PAExec-%s-%s.exe' % (pid, host), 'PAExec-%s-%s' % (pid, host), '%%SystemRoot%%\\PAExec-%s-%s.exe' % (pid, host),
     ['PAExec-%s-%s' % (pid, host)]),
    ('RemComSvc.exe', 'RemComSvc', '%SystemRoot%\\RemComSvc.exe',
     ['RemCom_communicaton', 'RemCom_stdin%s%s' % (host, pid), 'RemCom_stdout%s%s' % (host, pid), 'RemCom_stderr%s%s' % (host, pid)]),
    ('csexecsvc.exe', 'csexecsvc', '%SystemRoot%\\csexecsvc.exe', ['csexecsvc']),
]

for exe, service, path, pipes in TOOLS:
    conn = SMBConnection(srv, ip, myName=host)
    conn.login(user, pw, dom)
    data = io.BytesIO(exe_bytes(service))
    step('put ADMIN$\\' + exe, conn.putFile, 'ADMIN$', exe, data.read)
    rpc = transport.SMBTransport(ip, filename=r'\svcctl', smb_connection=conn)
    dce = rpc.get_dce_rpc()
    dce.connect()
    dce.bind(scmr.MSRPC_UUID_SCMR)
    r = step('OpenSCManagerW', scmr.hROpenSCManagerW, dce, srv + '\x00', 'ServicesActive\x00', 0xF003F)
    if r is not None:
        scm = r['lpScHandle']
        step('CreateServiceW ' + service, scmr.hRCreateServiceW, dce, scm, service + '\x00', service + '\x00',
             lpBinaryPathName=path + '\x00', dwStartType=scmr.SERVICE_DEMAND_START)
        o = step('OpenServiceW ' + service, scmr.hROpenServiceW, dce, scm, service + '\x00')
        if o is not None:
            step('StartServiceW', scmr.hRStartServiceW, dce, o['lpServiceHandle'])
        step('CloseServiceHandle scm', scmr.hRCloseServiceHandle, dce, scm)
    dce.disconnect()
    tid = conn.connectTree('IPC$')
    for name in pipes:
        fid = step('open pipe ' + name, conn.openFile, tid, name, FILE_READ_DATA | FILE_WRITE_DATA,
                   FILE_SHARE_READ | FILE_SHARE_WRITE, 0, FILE_OPEN, 0)
        if fid is not None:
            step('close', conn.closeFile, tid, fid)
    conn.disconnectTree(tid)
    step('delete ADMIN$\\' + exe, conn.deleteFile, 'ADMIN$', exe)
    conn.logoff()
