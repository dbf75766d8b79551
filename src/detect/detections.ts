/**
 * Detection rules: a table of data evaluated by one generic matcher. Flags (rules.ts) describe
 * where an event happened (ADMIN$, a PsExec name, an executable write); detections say what the
 * event means for an investigation (service creation, DCSync, impacket's shapes…) and carry the
 * ATT&CK techniques. Rules fire on the request whatever its status: a refused CreateService is
 * still evidence of the attempt.
 */
import type { Action, Severity, SmbEvent } from '../events/event';
import { SEVERITY_RANK, shareName } from './rules';
import type { CompiledConfig } from './config';

/** at least one of `keys` is present in rpc_args and its value matches */
export interface ArgTest {
  keys: string[];
  pattern: RegExp;
}

/**
 * Every given field must hold (AND); `any_of` needs one alternative to hold as well, `none_of`
 * none. Names compare case-insensitively.
 */
export interface Match {
  actions?: Action[];
  /** interface names or UUIDs (see INTERFACE_ALIASES) */
  rpc_interface?: string[];
  /** tshark's operation names, the [MS-*] names, or "opnum N" for interfaces tshark cannot name */
  rpc_operation?: string[];
  /** tested on the share name, the last component of \\host\share */
  share?: RegExp;
  /** tested on path, or on new_path for a rename (the name that lands in the share) */
  path?: RegExp;
  args?: ArgTest[];
  /** every flag present */
  flags?: string[];
  any_of?: Match[];
  none_of?: Match[];
}

export interface DetectionRule {
  id: string;
  title: string;
  attack: string[];
  severity: Severity;
  description: string;
  /** null: raised by correlation over several events (stories.ts), not by one event */
  match: Match | null;
}

/**
 * The RPC stage names an interface by tshark's name, or by its UUID when it has no name; a few
 * interfaces also go by their [MS-*] name. Every spelling maps to one key used in the rules.
 */
export const INTERFACE_ALIASES: Record<string, string[]> = {
  svcctl: ['svcctl', '367abb81-9844-35f1-ad32-98f038001003'],
  atsvc: ['atsvc', '1ff70682-0a51-30e8-076d-740be8cee98b'],
  tsch: ['ITaskSchedulerService', 'TaskSchedulerService', 'tsch', '86d35949-83c9-4044-b424-db363231fd0c'],
  drsuapi: ['drsuapi', 'e3514235-4b06-11d1-ab04-00c04fc2dcd2'],
  eventlog: ['eventlog', '82273fdc-e32a-18c3-3f78-827929dc23ea'],
  even6: ['even6', 'IEventService', 'f6beaff7-1e19-4fbb-9f8f-b89e2018337c'],
  winreg: ['winreg', '338cd001-2244-31f1-aaaa-900038001003'],
  netlogon: ['rpc_netlogon', 'netlogon', '12345678-1234-abcd-ef00-01234567cffb'],
  dcomactivation: ['isystemactivator', 'ISystemActivator', 'IRemoteSCMActivator', '000001a0-0000-0000-c000-000000000046', 'remact', 'IActivation', '4d9f4ab8-7d1c-11cf-861e-0020af6e7c57'],
  dispatch: ['dispatch', 'IDispatch', '00020400-0000-0000-c000-000000000046'],
  initshutdown: ['initshutdown', '894de0c0-0d55-11d3-a322-00c04fa321a1'],
  windowsshutdown: ['WindowsShutdown', 'd95afe70-a6d5-4259-822e-2c84da1ddb0d'],
  wmi: ['IWbemServices', '9556dc99-828c-11cf-a37e-00aa003240c7'],
  seclogon: ['seclogon', 'ISeclogon', '12b81e99-f207-4a4c-85d3-77b42f76fd14'],
  spoolss: ['spoolss', '12345678-1234-abcd-ef00-0123456789ab'],
  winspool: ['iremotewinspool', 'winspool', '76f03f96-cdfd-44fc-a22c-64950a001209'],
  srvsvc: ['srvsvc', '4b324fc8-1670-01d3-1278-5a47bf6ee188'],
  wkssvc: ['wkssvc', '6bffd098-a112-3610-9833-46c3f87e345a'],
  samr: ['samr', '12345778-1234-abcd-ef00-0123456789ac'],
  lsarpc: ['lsarpc', '12345778-1234-abcd-ef00-0123456789ab'],
};

const ALIAS_TO_KEY = new Map<string, string>();
for (const [key, names] of Object.entries(INTERFACE_ALIASES)) {
  for (const n of names) ALIAS_TO_KEY.set(n.toLowerCase(), key);
}

/** the rule key of an event's rpc_interface (svcctl, tsch, …), or its lower-cased text when unknown */
export function interfaceKey(name: string | null): string {
  if (!name) return '';
  const low = name.toLowerCase();
  return ALIAS_TO_KEY.get(low) ?? low;
}

const ADMIN_OR_DRIVE = /^(ADMIN\$|[A-Z]\$)$/i;
const CREATE_SERVICE = ['CreateServiceW', 'CreateServiceA', 'CreateServiceWOW64W', 'CreateServiceWOW64A', 'RCreateServiceW', 'RCreateServiceA'];
const CHANGE_SERVICE = ['ChangeServiceConfigW', 'ChangeServiceConfigA', 'RChangeServiceConfigW', 'RChangeServiceConfigA'];
const SAVE_KEY = ['SaveKey', 'SaveKeyEx', 'BaseRegSaveKey', 'BaseRegSaveKeyEx'];
const SERVICE_ARGS = ['service_name', 'display_name', 'binary_path'];
const TASK_COMMAND = ['command', 'arguments'];
/** the registry keys whose values run at logon or boot (T1547.001) */
export const RUN_KEY = /\\CurrentVersion\\(Policies\\Explorer\\)?Run(Once|OnceEx|Services|ServicesOnce)?$/i;
/**
 * What a service's binary path may run instead of a service binary, with the technique of each:
 * [rule id, title, ATT&CK, pattern on binary_path]
 */
const SERVICE_COMMANDS: readonly [string, string, string, RegExp][] = [
  ['SVC-SHELL-COMMAND', 'Service binary path runs cmd.exe', 'T1059.003', /%comspec%|\bcmd(\.exe)?\b/i],
  ['SVC-POWERSHELL-COMMAND', 'Service binary path runs PowerShell', 'T1059.001', /\b(powershell|pwsh)(\.exe)?\b/i],
  ['SVC-SCRIPT-HOST-COMMAND', 'Service binary path runs a Windows Script Host script', 'T1059.005', /\b(wscript|cscript)(\.exe)?\b/i],
  ['SVC-PROXY-COMMAND', 'Service binary path runs a signed proxy binary (mshta, rundll32, regsvr32, msiexec)', 'T1218', /\b(mshta|rundll32|regsvr32|msiexec)(\.exe)?\b/i],
  ['SVC-TRANSFER-COMMAND', 'Service binary path runs a download tool (certutil, bitsadmin)', 'T1105', /\b(certutil|bitsadmin)(\.exe)?\b/i],
];
/** the rules above: a service definition that runs a command */
export const SERVICE_COMMAND_RULES: readonly string[] = SERVICE_COMMANDS.map(([id]) => id);
const svc = (ops: string[]): Match => ({ actions: ['rpc'], rpc_interface: ['svcctl'], rpc_operation: ops });
/** a name of a tool's service, binary or pipe: in a file or pipe path, or in a service's arguments */
const toolName = (re: RegExp): Match => ({
  any_of: [
    { actions: ['create', 'write', 'read', 'rename', 'delete', 'rpc'], path: re },
    { actions: ['rpc'], rpc_interface: ['svcctl'], args: [{ keys: SERVICE_ARGS, pattern: re }] },
  ],
});

/**
 * Discovery operations by ATT&CK technique, as MITRE BZAR groups them (bzar_dce-rpc_consts),
 * under tshark's names and the [MS-SRVS]/[MS-WKST]/[MS-SAMR]/[MS-LSAT] names. BZAR files
 * samr's group and domain enumeration under T1033; kept, so that hits read the same as BZAR's.
 */
const DISCOVERY: { id: string; technique: string; title: string; ops: Record<string, string[]> }[] = [
  {
    id: 'DISCOVERY-NETWORK-CONFIG', technique: 'T1016', title: 'System network configuration discovery over RPC',
    ops: {
      srvsvc: ['NetTransportEnum', 'NetrServerTransportEnum'],
      wkssvc: ['NetWkstaTransportEnum', 'NetrWkstaTransportEnum'],
    },
  },
  {
    id: 'DISCOVERY-REMOTE-SYSTEM', technique: 'T1018', title: 'Remote system discovery over RPC',
    ops: {
      srvsvc: ['NetSrvGetInfo', 'NetrServerGetInfo', 'NetrServerAliasEnum'],
      wkssvc: ['NetWkstaGetInfo', 'NetrWkstaGetInfo'],
    },
  },
  {
    id: 'DISCOVERY-OWNER-USER', technique: 'T1033', title: 'System owner/user discovery over RPC',
    ops: {
      lsarpc: ['lsa_GetUserName', 'LsarGetUserName', 'lsa_EnumTrustedDomainsEx', 'LsarEnumerateTrustedDomainsEx',
        'lsa_GetSystemAccessAccount', 'LsarGetSystemAccessAccount', 'lsa_QueryDomainInformationPolicy',
        'LsarQueryDomainInformationPolicy', 'lsa_QueryTrustedDomainInfo', 'LsarQueryInfoTrustedDomain'],
      samr: ['EnumDomainGroups', 'SamrEnumerateGroupsInDomain', 'EnumDomains', 'SamrEnumerateDomainsInSamServer',
        'QueryDomainInfo', 'SamrQueryInformationDomain', 'QueryDomainInfo2', 'SamrQueryInformationDomain2',
        'QueryGroupInfo', 'SamrQueryInformationGroup'],
    },
  },
  {
    id: 'DISCOVERY-NETWORK-CONNECTIONS', technique: 'T1049', title: 'System network connections discovery over RPC',
    ops: { srvsvc: ['NetConnEnum', 'NetrConnectionEnum', 'NetSessEnum', 'NetrSessionEnum'] },
  },
  {
    id: 'DISCOVERY-PERMISSION-GROUPS', technique: 'T1069', title: 'Permission groups discovery over RPC',
    ops: {
      lsarpc: ['lsa_EnumAccountRights', 'LsarEnumerateAccountRights', 'lsa_EnumAccountsWithUserRight',
        'LsarEnumerateAccountsWithUserRight', 'lsa_EnumPrivs', 'LsarEnumeratePrivileges', 'lsa_EnumPrivsAccount',
        'LsarEnumeratePrivilegesAccount', 'lsa_LookupPrivValue', 'LsarLookupPrivilegeValue', 'lsa_LookupPrivName',
        'LsarLookupPrivilegeName', 'lsa_LookupPrivDisplayName', 'LsarLookupPrivilegeDisplayName'],
      samr: ['GetGroupsForUser', 'SamrGetGroupsForUser', 'GetAliasMembership', 'SamrGetAliasMembership',
        'GetMembersInAlias', 'SamrGetMembersInAlias', 'QueryGroupMember', 'SamrGetMembersInGroup'],
    },
  },
  {
    id: 'DISCOVERY-SYSTEM-INFO', technique: 'T1082', title: 'System information discovery over RPC',
    ops: {
      lsarpc: ['lsa_QueryInfoPolicy', 'LsarQueryInformationPolicy', 'lsa_QueryInfoPolicy2', 'LsarQueryInformationPolicy2',
        'lsa_QueryTrustedDomainInfoBySid', 'LsarQueryTrustedDomainInfo', 'lsa_QueryTrustedDomainInfoByName',
        'LsarQueryTrustedDomainInfoByName'],
      samr: ['GetUserPwInfo', 'SamrGetUserDomainPasswordInformation'],
    },
  },
  {
    id: 'DISCOVERY-FILES', technique: 'T1083', title: 'File and directory discovery over RPC (open files)',
    ops: { srvsvc: ['NetFileEnum', 'NetrFileEnum'] },
  },
  {
    id: 'DISCOVERY-ACCOUNTS', technique: 'T1087', title: 'Account discovery over RPC',
    ops: {
      lsarpc: ['lsa_EnumAccounts', 'LsarEnumerateAccounts', 'lsa_LookupNames', 'LsarLookupNames', 'lsa_LookupNames2',
        'LsarLookupNames2', 'lsa_LookupNames3', 'LsarLookupNames3', 'lsa_LookupNames4', 'LsarLookupNames4',
        'lsa_LookupSids', 'LsarLookupSids', 'lsa_LookupSids2', 'LsarLookupSids2', 'lsa_LookupSids3', 'LsarLookupSids3'],
      samr: ['EnumDomainAliases', 'SamrEnumerateAliasesInDomain', 'EnumDomainUsers', 'SamrEnumerateUsersInDomain',
        'LookupNames', 'SamrLookupNamesInDomain', 'LookupRids', 'SamrLookupIdsInDomain', 'LookupDomain',
        'SamrLookupDomainInSamServer', 'QueryDisplayInfo', 'SamrQueryDisplayInformation', 'QueryDisplayInfo2',
        'SamrQueryDisplayInformation2', 'QueryDisplayInfo3', 'SamrQueryDisplayInformation3', 'QueryAliasInfo',
        'SamrQueryInformationAlias', 'QueryUserInfo', 'SamrQueryInformationUser', 'QueryUserInfo2',
        'SamrQueryInformationUser2'],
      wkssvc: ['NetWkstaEnumUsers', 'NetrWkstaUserEnum'],
    },
  },
  {
    id: 'DISCOVERY-SYSTEM-TIME', technique: 'T1124', title: 'System time discovery over RPC',
    ops: { srvsvc: ['NetRemoteTOD', 'NetrRemoteTOD'] },
  },
  {
    id: 'DISCOVERY-SHARES', technique: 'T1135', title: 'Network share discovery over RPC',
    ops: {
      // tshark's NetShareEnumAll is [MS-SRVS] NetrShareEnum (opnum 15); its NetShareEnum is NetrShareEnumSticky
      srvsvc: ['NetShareEnumAll', 'NetrShareEnum', 'NetShareEnum', 'NetrShareEnumSticky', 'NetShareGetInfo', 'NetrShareGetInfo'],
    },
  },
];

/** the names tshark shows, without the [MS-*] spellings listed next to them */
function tsharkNames(ops: string[]): string[] {
  const t = ops.filter((o) => !/^(Lsar|Samr|Netr[A-Z])/.test(o));
  return t.length ? t : ops;
}

export const DISCOVERY_RULE_IDS: readonly string[] = DISCOVERY.map((d) => d.id);

export const DETECTION_RULES: readonly DetectionRule[] = [
  {
    id: 'SMB-ADMIN-SHARE-WRITE', title: 'Executable written to an administrative share', attack: ['T1021.002', 'T1570'], severity: 'high',
    description: 'An executable or script created with write access, written or renamed into ADMIN$ or a drive share (C$…): lateral tool transfer, usually followed by a service or task that runs it.',
    match: { flags: ['EXECUTABLE_WRITE'] },
  },
  {
    id: 'SVC-CREATE', title: 'Remote service creation', attack: ['T1543.003', 'T1569.002'], severity: 'high',
    description: 'svcctl CreateService over the network: the service runs its binary path as SYSTEM (PsExec, impacket psexec/smbexec, services.py).',
    match: svc(CREATE_SERVICE),
  },
  {
    id: 'SVC-MODIFY', title: 'Remote change of a service binary path', attack: ['T1543.003', 'T1569.002'], severity: 'high',
    description: 'svcctl ChangeServiceConfig with a new binary path: an existing service repurposed to run a command (SCShell).',
    match: { ...svc(CHANGE_SERVICE), args: [{ keys: ['binary_path'], pattern: /\S/ }] },
  },
  {
    id: 'SVC-START', title: 'Remote service start', attack: ['T1569.002'], severity: 'medium',
    description: 'svcctl StartService over the network: after a creation it is the execution itself.',
    match: svc(['StartServiceW', 'StartServiceA', 'RStartServiceW', 'RStartServiceA']),
  },
  // a service that runs an interpreter or a system binary instead of a service binary: a one-shot
  // remote command, tagged with the technique of what it runs
  ...SERVICE_COMMANDS.map(([id, title, technique, pattern]): DetectionRule => ({
    id, title, attack: ['T1569.002', technique], severity: 'high',
    description: `A service created or changed to run ${title.replace(/^Service binary path runs /, '')} instead of a service binary: a one-shot remote command.`,
    match: { ...svc([...CREATE_SERVICE, ...CHANGE_SERVICE]), args: [{ keys: ['binary_path'], pattern }] },
  })),
  {
    id: 'SVC-DISABLE', title: 'Remote change of a service to disabled', attack: ['T1489'], severity: 'medium',
    description: 'svcctl ChangeServiceConfig setting the start type to DISABLED: a service (Remote Desktop, a security agent, backups) kept from starting.',
    match: { ...svc(CHANGE_SERVICE), args: [{ keys: ['start_type'], pattern: /DISABLED/i }] },
  },
  {
    id: 'PSEXEC-PSEXESVC', title: 'Sysinternals PsExec (PSEXESVC)', attack: ['T1569.002', 'T1570'], severity: 'high',
    description: 'PSEXESVC.exe copied to ADMIN$, the PSEXESVC service, or its pipes PSEXESVC and PSEXESVC-<host>-<pid>-stdin/stdout/stderr (which name the client host and process).',
    match: { any_of: [{ flags: ['PSEXESVC'] }, toolName(/psexec?svc/i)] },
  },
  {
    id: 'PSEXEC-PIPE-SHAPE', title: 'PsExec-shaped pipes under another service name', attack: ['T1569.002'], severity: 'high',
    description: 'Pipes <name>-<host>-<pid>-stdin/stdout/stderr: PsExec started with -r <name> (renamed service) or a clone.',
    match: {
      share: /^IPC\$$/i, path: /^[^\\]+-\d+-(stdin|stdout|stderr)$/i,
      none_of: [{ path: /psexec?svc|paexec|remcom|csexec/i }],
    },
  },
  {
    id: 'PSEXEC-PAEXEC', title: 'PAExec (PsExec clone)', attack: ['T1569.002', 'T1570'], severity: 'high',
    description: 'PAExec-<pid>-<host>.exe, its service or its pipes.',
    match: toolName(/paexec/i),
  },
  {
    id: 'PSEXEC-REMCOM', title: 'RemCom (PsExec clone; impacket psexec.py uses its service)', attack: ['T1569.002', 'T1570'], severity: 'high',
    description: 'RemComSvc or the RemCom_communicaton / RemCom_stdin… / RemCom_stdout… / RemCom_stderr… pipes.',
    match: toolName(/remcom/i),
  },
  {
    id: 'PSEXEC-CSEXEC', title: 'CSExec (PsExec clone)', attack: ['T1569.002', 'T1570'], severity: 'high',
    description: 'csexecsvc binary, service or pipes.',
    match: toolName(/csexec/i),
  },
  {
    id: 'IMPACKET-PSEXEC', title: 'impacket psexec.py shape', attack: ['T1569.002', 'T1570', 'T1543.003'], severity: 'high',
    description: 'A random 8-letter mixed-case .exe written to the root of ADMIN$, or a service with a random 4-letter name whose binary path is %systemroot%\\<8 letters>.exe. The story ties the two together.',
    match: {
      any_of: [
        { share: /^ADMIN\$$/i, flags: ['EXECUTABLE_WRITE'], path: /^(?=[A-Za-z]{0,7}[a-z])(?=[A-Za-z]{0,7}[A-Z])[A-Za-z]{8}\.exe$/ },
        {
          ...svc(CREATE_SERVICE),
          args: [{ keys: ['binary_path'], pattern: /^%systemroot%\\[A-Za-z]{8}\.exe$/i }, { keys: ['service_name'], pattern: /^[A-Za-z]{4}$/ }],
        },
      ],
    },
  },
  {
    id: 'IMPACKET-SMBEXEC', title: 'impacket smbexec.py shape', attack: ['T1569.002', 'T1543.003', 'T1059.003'], severity: 'high',
    description: 'A service whose binary path is a %COMSPEC% /Q /c command line writing its output to \\\\127.0.0.1\\C$\\__output (or another share) through a batch file.',
    match: {
      ...svc([...CREATE_SERVICE, ...CHANGE_SERVICE]),
      args: [{ keys: ['binary_path'], pattern: /(%comspec%|\bcmd(\.exe)?)\s+\/q\s+\/c\b.*(\^?>|\.bat\b)|\\__output\b/i }],
    },
  },
  {
    id: 'IMPACKET-ATEXEC', title: 'impacket atexec.py shape', attack: ['T1053.005', 'T1059.003'], severity: 'high',
    description: 'A scheduled task (ITaskSchedulerService SchRpcRegisterTask, which atexec.py uses) whose command line redirects its output to a file under Temp or a share (cmd.exe /C … > %windir%\\Temp\\<8 letters>.tmp 2>&1), read back over SMB. An AT job doing the same is ATSVC-JOB-ADD.',
    match: {
      actions: ['rpc'], rpc_interface: ['tsch'], rpc_operation: ['SchRpcRegisterTask'],
      args: [{ keys: TASK_COMMAND, pattern: /(\^?>|\b1>|\b2>)\s*"?([^\s"]*\\temp\\|\\\\[^\\\s]+\\[^\\\s]+\\)[^\s"]+/i }],
    },
  },
  {
    id: 'IMPACKET-OUTPUT-FILE', title: 'Command output file of a remote-execution tool', attack: ['T1021.002', 'T1059.003'], severity: 'medium',
    description: 'Files on ADMIN$/C$ named like the output of impacket smbexec (__output), wmiexec/dcomexec (__<unix time>), atexec (Temp\\<8 letters>.tmp) or secretsdump hive copies (System32\\<8 letters>.tmp).',
    match: {
      actions: ['create', 'read', 'write', 'delete', 'rename'], share: ADMIN_OR_DRIVE,
      path: /^(__output|__\d{9,10}(\.\d+)?|(Windows\\)?(Temp|System32)\\[A-Za-z]{8}\.tmp)$/i,
    },
  },
  {
    id: 'DCOM-EXEC-CLASS', title: 'Remote activation of a DCOM class that can run commands', attack: ['T1021.003'], severity: 'high',
    description: 'ISystemActivator / IActivation request for MMC20.Application, ShellWindows, ShellBrowserWindow or Excel/Outlook.Application from another host: DCOM lateral movement (impacket dcomexec, Cobalt Strike).',
    match: { actions: ['rpc'], rpc_interface: ['dcomactivation'], args: [{ keys: ['class'], pattern: /^(MMC20\.Application|ShellWindows|ShellBrowserWindow|Excel\.Application|Outlook\.Application)$/ }] },
  },
  {
    id: 'DCOM-SHELL-COMMAND', title: 'Command line passed to a DCOM object', attack: ['T1021.003', 'T1059'], severity: 'high',
    description: 'IDispatch::Invoke whose string arguments name a shell, an interpreter or a program (MMC20 ExecuteShellCommand "cmd" "/c …", ShellWindows ShellExecute), or GetIDsOfNames asking for such a method.',
    match: {
      any_of: [
        { actions: ['rpc'], rpc_interface: ['dispatch'], rpc_operation: ['Invoke'], args: [{ keys: ['strings'], pattern: /"([^"]*\\)?(cmd|powershell|pwsh|mshta|rundll32|regsvr32|wscript|cscript)(\.exe)?"|\.(exe|bat|cmd|ps1|vbs|hta)\b/i }] },
        { actions: ['rpc'], rpc_interface: ['dispatch'], rpc_operation: ['GetIDsOfNames'], args: [{ keys: ['names'], pattern: /\b(ExecuteShellCommand|ShellExecute|DDEInitiate|RegisterXLL)\b/i }] },
      ],
    },
  },
  {
    id: 'WMI-EXEC-METHOD', title: 'Remote WMI method call', attack: ['T1047'], severity: 'medium',
    description: 'IWbemServices ExecMethod/ExecMethodAsync: how Win32_Process.Create runs a command remotely (wmiexec, Invoke-WmiMethod); management software calls it too.',
    match: { actions: ['rpc'], rpc_interface: ['wmi'], rpc_operation: ['ExecMethod', 'ExecMethodAsync', 'opnum 24', 'opnum 25'] },
  },
  {
    id: 'ATSVC-JOB-ADD', title: 'Remote AT job', attack: ['T1053.002'], severity: 'high',
    description: 'atsvc JobAdd (NetrJobAdd): a command scheduled through the legacy AT service.',
    match: { actions: ['rpc'], rpc_interface: ['atsvc'], rpc_operation: ['JobAdd', 'NetrJobAdd'] },
  },
  {
    id: 'TSCH-REGISTER-TASK', title: 'Remote scheduled task registration', attack: ['T1053.005'], severity: 'high',
    description: 'ITaskSchedulerService SchRpcRegisterTask: a task created over the network (atexec, schtasks /s).',
    match: { actions: ['rpc'], rpc_interface: ['tsch'], rpc_operation: ['SchRpcRegisterTask', 'opnum 1'] },
  },
  {
    id: 'TSCH-RUN-TASK', title: 'Remote scheduled task run or enable', attack: ['T1053.005'], severity: 'medium',
    description: 'ITaskSchedulerService SchRpcRun / SchRpcEnableTask.',
    match: { actions: ['rpc'], rpc_interface: ['tsch'], rpc_operation: ['SchRpcRun', 'SchRpcEnableTask', 'opnum 12', 'opnum 19'] },
  },
  {
    id: 'DRS-REPLICATION', title: 'Directory replication request (DCSync)', attack: ['T1003.006'], severity: 'high',
    description: 'drsuapi DsGetNCChanges asks a domain controller for directory data, password hashes included. Normal between DCs: allow-list the DCs by client address in the rules config.',
    match: { actions: ['rpc'], rpc_interface: ['drsuapi'], rpc_operation: ['DsGetNCChanges', 'DRSGetNCChanges', 'IDL_DRSGetNCChanges', 'opnum 3'] },
  },
  {
    id: 'EVENTLOG-CLEAR', title: 'Remote event log clearing', attack: ['T1070.001'], severity: 'high',
    description: 'eventlog ClearEventLog (ElfrClearELF) or even6 EvtRpcClearLog.',
    match: {
      any_of: [
        { actions: ['rpc'], rpc_interface: ['eventlog'], rpc_operation: ['ClearEventLogW', 'ClearEventLogA', 'ElfrClearELFW', 'ElfrClearELFA', 'opnum 0', 'opnum 12'] },
        { actions: ['rpc'], rpc_interface: ['even6'], rpc_operation: ['EvtRpcClearLog', 'opnum 6'] },
      ],
    },
  },
  {
    id: 'REMOTE-SHUTDOWN', title: 'Remote shutdown or reboot', attack: ['T1529'], severity: 'medium',
    description: 'winreg InitiateSystemShutdown(Ex), initshutdown Init/InitEx or WindowsShutdown WsdrInitiateShutdown.',
    match: {
      any_of: [
        { actions: ['rpc'], rpc_interface: ['winreg'], rpc_operation: ['InitiateSystemShutdown', 'InitiateSystemShutdownEx', 'BaseInitiateSystemShutdown', 'BaseInitiateSystemShutdownEx', 'opnum 24', 'opnum 30'] },
        { actions: ['rpc'], rpc_interface: ['initshutdown'], rpc_operation: ['Init', 'InitEx', 'BaseInitiateShutdown', 'BaseInitiateShutdownEx', 'opnum 0', 'opnum 2'] },
        { actions: ['rpc'], rpc_interface: ['windowsshutdown'], rpc_operation: ['WsdrInitiateShutdown', 'opnum 0'] },
      ],
    },
  },
  {
    id: 'ZEROLOGON', title: 'Netlogon authentication with a zero credential (Zerologon, CVE-2020-1472)', attack: ['T1210'], severity: 'high',
    description: 'netlogon NetrServerAuthenticate2/3 with a client credential of eight zero bytes, or NetrServerPasswordSet(2) with a zero authenticator or an all-zero new password: the Zerologon exploit, which then empties the domain controller\'s machine password. A real client computes its credential from the session key.',
    match: {
      any_of: [
        { actions: ['rpc'], rpc_interface: ['netlogon'], rpc_operation: ['NetrServerAuthenticate2', 'NetrServerAuthenticate3'], args: [{ keys: ['client_credential'], pattern: /^0{16}$/ }] },
        { actions: ['rpc'], rpc_interface: ['netlogon'], rpc_operation: ['NetrServerPasswordSet', 'NetrServerPasswordSet2'], args: [{ keys: ['authenticator_credential'], pattern: /^0{16}$/ }] },
        { actions: ['rpc'], rpc_interface: ['netlogon'], rpc_operation: ['NetrServerPasswordSet', 'NetrServerPasswordSet2'], args: [{ keys: ['new_password'], pattern: /^all zeros$/ }] },
      ],
    },
  },
  {
    id: 'PRINT-DRIVER-REMOTE-DLL', title: 'Printer driver loaded from a network path (PrintNightmare)', attack: ['T1210', 'T1068'], severity: 'high',
    description: 'spoolss AddPrinterDriverEx (or the IRemoteWinspool form) whose driver, data or configuration file is a UNC path: the spooler loads a DLL from another host as SYSTEM (CVE-2021-1675 / CVE-2021-34527).',
    match: {
      actions: ['rpc'], rpc_interface: ['spoolss', 'winspool'], rpc_operation: ['AddPrinterDriverEx', 'RpcAddPrinterDriverEx', 'AddPrinterDriver', 'RpcAddPrinterDriver', 'winspool_AsyncAddPrinterDriver', 'RpcAsyncAddPrinterDriver'],
      args: [{ keys: ['driver_path', 'data_file', 'config_file'], pattern: /^\\\\[^\\]+\\/ }],
    },
  },
  {
    id: 'SECLOGON-CREATE-PROCESS', title: 'Process created through the Secondary Logon service', attack: ['T1134.002'], severity: 'high',
    description: 'ISeclogon SeclCreateProcessWithLogon(Ex)W over the network (BZAR files it under T1547.004; it creates a process with other credentials).',
    match: { actions: ['rpc'], rpc_interface: ['seclogon'], rpc_operation: ['SeclCreateProcessWithLogonW', 'SeclCreateProcessWithLogonExW', 'opnum 0', 'opnum 1'] },
  },
  {
    id: 'PRINT-MONITOR-INSTALL', title: 'Print monitor, print processor or driver installed remotely', attack: ['T1547.010'], severity: 'high',
    description: 'spoolss AddMonitor / AddPrintProcessor / AddPrinterDriverEx (and the IRemoteWinspool Async forms): a DLL loaded by the spooler as SYSTEM (port monitors, PrintNightmare).',
    match: {
      any_of: [
        { actions: ['rpc'], rpc_interface: ['spoolss'], rpc_operation: ['AddMonitor', 'RpcAddMonitor', 'AddPrintProcessor', 'RpcAddPrintProcessor', 'AddPrinterDriverEx', 'RpcAddPrinterDriverEx'] },
        { actions: ['rpc'], rpc_interface: ['winspool'], rpc_operation: ['winspool_AsyncAddMonitor', 'RpcAsyncAddMonitor', 'winspool_AsyncAddPrintProcessor', 'RpcAsyncAddPrintProcessor', 'winspool_AsyncAddPrinterDriver', 'RpcAsyncAddPrinterDriver'] },
      ],
    },
  },
  {
    id: 'SECRETSDUMP', title: 'Registry hive or boot key read for credential dumping', attack: ['T1003.002', 'T1003.004'], severity: 'high',
    description: 'winreg SaveKey of SAM, SYSTEM or SECURITY (or to an impacket-style <8 letters>.tmp file), OpenKey of SAM/SECURITY, or of the Lsa\\JD/Skew1/GBG/Data keys whose class names make the boot key (impacket secretsdump, reg save \\\\host).',
    match: {
      any_of: [
        // the key is known when the RPC stage traced the handle; impacket saves to <8 letters>.tmp
        { actions: ['rpc'], rpc_interface: ['winreg'], rpc_operation: SAVE_KEY, args: [{ keys: ['key'], pattern: /(^|\\)(SAM|SYSTEM|SECURITY)$/i }] },
        { actions: ['rpc'], rpc_interface: ['winreg'], rpc_operation: SAVE_KEY, args: [{ keys: ['file'], pattern: /(^|\\)[A-Za-z]{8}\.tmp$/ }] },
        // HKLM\SAM when the RPC stage saw the OpenHKLM that the key handle came from, SAM when not
        { actions: ['rpc'], rpc_interface: ['winreg'], rpc_operation: ['OpenKey', 'BaseRegOpenKey'], args: [{ keys: ['key'], pattern: /^(HKLM\\)?(SAM|SECURITY)$|\\Control\\Lsa\\(JD|Skew1|GBG|Data)$/i }] },
      ],
    },
  },
  {
    id: 'REG-SAVE-KEY', title: 'Remote registry key saved to a file', attack: ['T1003.002'], severity: 'high',
    description: 'winreg SaveKey(Ex) of any key: hives are saved remotely to be copied off.',
    match: { actions: ['rpc'], rpc_interface: ['winreg'], rpc_operation: SAVE_KEY },
  },
  {
    id: 'REG-RUN-KEY-WRITE', title: 'Registry Run key written remotely', attack: ['T1547.001'], severity: 'high',
    description: 'winreg CreateKey / SetValue under …\\CurrentVersion\\Run, RunOnce, RunOnceEx, RunServices(Once) or Policies\\Explorer\\Run: a program started at every logon or boot.',
    match: { actions: ['rpc'], rpc_interface: ['winreg'], rpc_operation: ['CreateKey', 'SetValue', 'BaseRegCreateKey', 'BaseRegSetValue'], args: [{ keys: ['key'], pattern: RUN_KEY }] },
  },
  {
    id: 'REG-REMOTE-WRITE', title: 'Remote registry modification', attack: ['T1112'], severity: 'medium',
    description: 'winreg CreateKey / SetValue / DeleteKey / DeleteValue over the network.',
    match: { actions: ['rpc'], rpc_interface: ['winreg'], rpc_operation: ['CreateKey', 'SetValue', 'DeleteKey', 'DeleteValue', 'DeleteKeyEx', 'BaseRegCreateKey', 'BaseRegSetValue', 'BaseRegDeleteKey', 'BaseRegDeleteValue', 'BaseRegDeleteKeyEx'] },
  },
  ...DISCOVERY.map((d): DetectionRule => ({
    id: d.id, title: d.title, attack: [d.technique], severity: 'low',
    description: `${Object.entries(d.ops).map(([i, ops]) => `${i} ${tsharkNames(ops).join('/')}`).join('; ')} (grouped as MITRE BZAR does).`,
    match: { any_of: Object.entries(d.ops).map(([iface, ops]): Match => ({ actions: ['rpc'], rpc_interface: [iface], rpc_operation: ops })) },
  })),
  {
    id: 'DISCOVERY-BURST', title: 'Burst of discovery calls from one client to one server', attack: ['T1087', 'T1135'], severity: 'medium',
    description: 'At least N distinct discovery operations (srvsvc, wkssvc, samr, lsarpc) from one client to one server within T seconds (defaults 5 in 60 s; rules.DISCOVERY-BURST.min_operations / window_seconds). The hit carries the techniques of the operations seen.',
    match: null,
  },
];

/** stories (stories.ts): one per chain per client, target host and time window */
export const STORY_RULES: readonly DetectionRule[] = [
  { id: 'STORY-PSEXEC', title: 'Sysinternals PsExec execution chain', attack: ['T1021.002', 'T1570', 'T1569.002'], severity: 'high', description: 'PSEXESVC.exe copied to ADMIN$, service created/started, PSEXESVC pipes opened.', match: null },
  { id: 'STORY-PAEXEC', title: 'PAExec execution chain', attack: ['T1021.002', 'T1570', 'T1569.002'], severity: 'high', description: 'PAExec binary, service and pipes.', match: null },
  { id: 'STORY-REMCOM', title: 'RemCom execution chain', attack: ['T1021.002', 'T1570', 'T1569.002'], severity: 'high', description: 'RemComSvc binary, service and pipes.', match: null },
  { id: 'STORY-CSEXEC', title: 'CSExec execution chain', attack: ['T1021.002', 'T1570', 'T1569.002'], severity: 'high', description: 'csexecsvc binary, service and pipes.', match: null },
  { id: 'STORY-IMPACKET-PSEXEC', title: 'impacket psexec.py execution chain', attack: ['T1021.002', 'T1570', 'T1569.002', 'T1543.003'], severity: 'high', description: 'Random 8-letter .exe uploaded to ADMIN$ and a random 4-letter service running it (RemCom pipes).', match: null },
  { id: 'STORY-SMBEXEC', title: 'impacket smbexec.py execution chain', attack: ['T1569.002', 'T1543.003', 'T1059.003'], severity: 'high', description: 'Services running %COMSPEC% /Q /c command lines, output read back from C$\\__output.', match: null },
  { id: 'STORY-ADMIN-SHARE-STAGING', title: 'Executable staged on an administrative share', attack: ['T1021.002', 'T1570'], severity: 'medium', description: 'Executables copied to ADMIN$/C$-style shares with no service, task or tool pipe seen running them (yet): lateral tool transfer to check on the target.', match: null },
  { id: 'STORY-SERVICE-EXEC', title: 'Remote service execution', attack: ['T1569.002', 'T1543.003'], severity: 'high', description: 'A service created or repurposed remotely, with its binary copied to an admin share or started; medium when only the creation was seen.', match: null },
  { id: 'STORY-ATEXEC', title: 'impacket atexec.py execution chain', attack: ['T1053.005', 'T1059.003'], severity: 'high', description: 'Task registered with output redirected to Temp, run, output file read over ADMIN$.', match: null },
  { id: 'STORY-TASK-EXEC', title: 'Remote scheduled task / AT job execution', attack: ['T1053.005', 'T1053.002'], severity: 'high', description: 'A task or AT job created remotely (and run); medium when only a run was seen.', match: null },
  { id: 'STORY-WMIEXEC', title: 'WMI remote execution with output files', attack: ['T1047', 'T1021.002'], severity: 'high', description: 'WMI ExecMethod calls and __<time> output files read over ADMIN$ (impacket wmiexec/dcomexec).', match: null },
  { id: 'STORY-DCSYNC', title: 'DCSync', attack: ['T1003.006'], severity: 'high', description: 'Directory replication (DsGetNCChanges) requested by a client; allow-list real DCs.', match: null },
  { id: 'STORY-DCOMEXEC', title: 'DCOM remote execution', attack: ['T1021.003'], severity: 'high', description: 'A class that can run commands activated remotely (MMC20.Application, ShellWindows…), with the command lines passed to it and the output files read over SMB.', match: null },
  { id: 'STORY-RUN-KEY', title: 'Registry Run-key persistence set remotely', attack: ['T1547.001', 'T1112'], severity: 'high', description: 'Values written under a Run key over the remote registry, with no credential dumping around them (told inside STORY-SECRETSDUMP when there is).', match: null },
  { id: 'STORY-ZEROLOGON', title: 'Zerologon (CVE-2020-1472)', attack: ['T1210'], severity: 'high', description: 'Netlogon authentications with a zero credential until one is accepted, the DC machine password set to zeros, and directory replication with that account when it follows. Refused attempts are told as such (and stay high, like their steps).', match: null },
  { id: 'STORY-SECRETSDUMP', title: 'Remote credential dumping (secretsdump shape)', attack: ['T1003.002', 'T1003.004', 'T1003.006'], severity: 'high', description: 'Remote registry hive saves / boot key reads, hive files read over ADMIN$, with or without DCSync.', match: null },
];

export const ALL_RULES: readonly DetectionRule[] = [...DETECTION_RULES, ...STORY_RULES];
export const RULE_IDS: ReadonlySet<string> = new Set(ALL_RULES.map((r) => r.id));
export function ruleById(id: string): DetectionRule | undefined {
  return ALL_RULES.find((r) => r.id === id);
}

// ---------------------------------------------------------------------------------------------
// The matcher

export type Predicate = (e: SmbEvent) => boolean;

const lowerSet = (xs: string[]): Set<string> => new Set(xs.map((x) => x.toLowerCase()));

/** Turns a Match into a predicate once, so that a hundred thousand events do not re-lower names. */
export function compileMatch(m: Match): Predicate {
  const tests: Predicate[] = [];
  if (m.actions) {
    const a = new Set<string>(m.actions);
    tests.push((e) => a.has(e.action));
  }
  if (m.rpc_interface) {
    const keys = new Set(m.rpc_interface.map(interfaceKey));
    tests.push((e) => keys.has(interfaceKey(e.rpc_interface)));
  }
  if (m.rpc_operation) {
    const ops = lowerSet(m.rpc_operation);
    tests.push((e) => e.rpc_operation !== null && ops.has(e.rpc_operation.toLowerCase()));
  }
  if (m.share) {
    const re = m.share;
    tests.push((e) => e.share !== null && re.test(shareName(e.share)));
  }
  if (m.path) {
    const re = m.path;
    tests.push((e) => {
      const p = e.action === 'rename' ? e.new_path : e.path;
      return p !== null && re.test(p);
    });
  }
  if (m.args) {
    for (const t of m.args) {
      tests.push((e) => {
        const a = e.rpc_args;
        if (!a) return false;
        for (const k of t.keys) if (typeof a[k] === 'string' && t.pattern.test(a[k] as string)) return true;
        return false;
      });
    }
  }
  if (m.flags) {
    const fl = m.flags;
    tests.push((e) => {
      for (let i = 0; i < fl.length; i++) if (!e.flags.includes(fl[i])) return false;
      return true;
    });
  }
  if (m.any_of) {
    const alts = m.any_of.map(compileMatch);
    tests.push((e) => anyOf(alts, e));
  }
  if (m.none_of) {
    const alts = m.none_of.map(compileMatch);
    tests.push((e) => !anyOf(alts, e));
  }
  return (e) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i](e)) return false;
    return true;
  };
}

// loops, not `alts.some((p) => p(e))`: that closure was made per event per rule (the largest
// allocation of the detection stage, 0.6 KB per event on a metadata-heavy capture)
function anyOf(alts: Predicate[], e: SmbEvent): boolean {
  for (let i = 0; i < alts.length; i++) if (alts[i](e)) return true;
  return false;
}

export function matches(m: Match, e: SmbEvent): boolean {
  return compileMatch(m)(e);
}

export interface CompiledRule {
  rule: DetectionRule;
  severity: Severity;
  test: Predicate;
}

/** the event rules of the table (correlation rules have no predicate), with default severities */
export function compileRules(rules: readonly DetectionRule[] = DETECTION_RULES): CompiledRule[] {
  const out: CompiledRule[] = [];
  for (const rule of rules) if (rule.match) out.push({ rule, severity: rule.severity, test: compileMatch(rule.match) });
  return out;
}

let defaultCompiled: CompiledRule[] | null = null;

/** the actions a match can fire on; null when any */
function actionsOf(m: Match): Set<string> | null {
  if (m.actions) return new Set(m.actions);
  if (!m.any_of || m.any_of.length === 0) return null;
  const all = new Set<string>();
  for (const alt of m.any_of) {
    const a = actionsOf(alt);
    if (a === null) return null;
    for (const x of a) all.add(x);
  }
  return all;
}

/**
 * The rules that can fire on an action, in table order: most events are creates, reads and
 * writes, which only a few rules look at (measured: the detections were 9% of a metadata-heavy
 * scan when every rule was tried on every event).
 */
const byAction = new WeakMap<readonly CompiledRule[], Map<string, CompiledRule[]>>();
function rulesFor(rules: readonly CompiledRule[], action: string): readonly CompiledRule[] {
  let index = byAction.get(rules);
  if (!index) { index = new Map(); byAction.set(rules, index); }
  let list = index.get(action);
  if (!list) {
    list = rules.filter((r) => { const a = r.rule.match ? actionsOf(r.rule.match) : null; return a === null || a.has(action); });
    index.set(action, list);
  }
  return list;
}

/** Adds the ids of the rules the event matches to e.rules, their techniques to e.attack, and raises
 * e.severity to the highest of them. Flags must be applied first (some rules require them). An
 * allow-list entry of the config removes the hits it covers; nothing lowers a severity. */
export function applyDetections(e: SmbEvent, config?: CompiledConfig, onAllowed?: (ruleId: string) => void): SmbEvent {
  const rules = rulesFor(config ? config.eventRules : (defaultCompiled ??= compileRules()), e.action);
  let sev = SEVERITY_RANK[e.severity];
  for (const r of rules) {
    if (!r.test(e)) continue;
    if (config && config.isAllowed(e, r.rule.id)) { onAllowed?.(r.rule.id); continue; }
    addHit(e, r.rule.id, r.rule.attack);
    if (SEVERITY_RANK[r.severity] > sev) { sev = SEVERITY_RANK[r.severity]; e.severity = r.severity; }
  }
  return e;
}

function addHit(e: SmbEvent, id: string, attack: readonly string[]): void {
  if (!e.rules.includes(id)) e.rules.push(id);
  for (const t of attack) if (!e.attack.includes(t)) e.attack.push(t);
}

/** ATT&CK technique id: T1234 or T1234.001 */
export const ATTACK_ID = /^T\d{4}(\.\d{3})?$/;
