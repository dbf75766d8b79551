/**
 * Argument decoders for the DCE/RPC calls that matter to an incident responder, keyed by
 * `${iface}:${opnum}` with tshark's interface names. decodeArgs never throws: hostile or cut
 * stubs give a partial record or null.
 *
 * Keys (values are strings; a key is absent when its value was not on the wire, e.g. a null
 * pointer, a cut stub or a FAULT instead of a response). `handle`: the context handle the call
 * acts on (40 hex digits); `error`: the call's return value when not success (Win32 name such as
 * ERROR_SERVICE_EXISTS, NTSTATUS name, or 0x-hex); `access`: desired access mask (0x-hex).
 *
 * | iface:opnum | operation | request keys | response keys |
 * |---|---|---|---|
 * | svcctl:1 | ControlService | handle, control (STOP, PAUSE, …) | error |
 * | svcctl:2 | DeleteService | handle | error |
 * | svcctl:11, :23 | ChangeServiceConfigW/A | handle, service_type, start_type, binary_path, account, display_name | error |
 * | svcctl:12, :24, :44, :45, :60 | CreateServiceW/A, CreateServiceWOW64A/W, CreateWowService | handle, service_name, display_name, service_type (0x-hex), start_type (BOOT/SYSTEM/AUTO/DEMAND/DISABLED), binary_path, account | service_handle, error |
 * | svcctl:15, :27 | OpenSCManagerW/A | machine_name, database | scm_handle, error |
 * | svcctl:16, :28 | OpenServiceW/A | handle, service_name | service_handle, error |
 * | svcctl:19, :31 | StartServiceW/A | handle, argv (space-joined) | error |
 * | atsvc:0 | NetrJobAdd | server, job_time (HH:MM), days_of_month, days_of_week, flags, command | job_id, error |
 * | atsvc:1 | NetrJobDel | server, min_job_id, max_job_id | error |
 * | ITaskSchedulerService:1 | SchRpcRegisterTask | task_path, command, arguments, run_as, hidden, flags, logon_type, credential_user | actual_path, error |
 * | ITaskSchedulerService:2, :3, :11, :13 | SchRpcRetrieveTask, CreateFolder, Stop, Delete | task_path | error |
 * | ITaskSchedulerService:12 | SchRpcRun | task_path, arguments, user | instance (GUID), error |
 * | ITaskSchedulerService:14 | SchRpcRename | task_path, new_name | error |
 * | ITaskSchedulerService:19 | SchRpcEnableTask | task_path, enabled | error |
 * | winreg:0–4, :27, :32, :33 | OpenHKCR/HKCU/HKLM/HKPD/HKU/HKCC/HKPT/HKPN | hive, access | hive, key_handle, error |
 * | winreg:6 | CreateKey | handle, key | key_handle, disposition (created/opened), error |
 * | winreg:7, :35 | DeleteKey, DeleteKeyEx | handle, key | error |
 * | winreg:8, :17 | DeleteValue, QueryValue | handle, value_name | error |
 * | winreg:15 | OpenKey | handle, key, access | key_handle, error |
 * | winreg:19, :20, :31 | RestoreKey, SaveKey, SaveKeyEx | handle, file | error |
 * | winreg:22 | SetValue | handle, value_name, type (REG_SZ…), data_size, data (strings and numbers only) | error |
 * | winreg:24, :30 | InitiateSystemShutdown(Ex) | message, timeout, force, reboot, reason (Ex) | error |
 * | initshutdown:0, :2 | Init, InitEx (BaseInitiateShutdown(Ex)) | message, timeout, force, reboot, reason (InitEx) | error |
 * | initshutdown:1 | Abort | – | error |
 * | srvsvc:8, :9, :12, :21 | NetrConnectionEnum, NetrFileEnum, NetrSessionEnum, NetrServerGetInfo | server, qualifier / path, user / client, user, level | – |
 * | srvsvc:14 | NetrShareAdd | server, level, share, path | error |
 * | srvsvc:15 | NetrShareEnum (NetShareEnumAll) | server, level | share_count, shares (", "-joined, first 200), error |
 * | srvsvc:16 | NetrShareGetInfo | server, share, level | path (levels 2, 502), error |
 * | srvsvc:18 | NetrShareDel | server, share | error |
 * | wkssvc:0, :2 | NetrWkstaGetInfo, NetrWkstaUserEnum | server, level | – |
 * | samr:0 | Connect | access | server_handle, error |
 * | samr:57, :62, :64 | Connect2/4/5 | server, access | server_handle, error |
 * | samr:5 | LookupDomainInSamServer | handle, domain | domain_sid, error |
 * | samr:6, :11, :13, :15 | EnumDomains, EnumDomainGroups/Users/Aliases | handle | domains / groups / users / aliases, error |
 * | samr:7 | OpenDomain | handle, access, domain_sid | domain_handle, error |
 * | samr:12, :50 | CreateUserInDomain, CreateUser2InDomain | handle, name, account_type (50) | user_handle, rid, error |
 * | samr:17 | LookupNamesInDomain | handle, names | rids |
 * | samr:19, :27, :34 | OpenGroup, OpenAlias, OpenUser | handle, access, rid | group_handle / alias_handle / user_handle, error |
 * | samr:22 | AddMemberToGroup | handle, rid | error |
 * | samr:31 | AddMemberToAlias | handle, member_sid | error |
 * | lsarpc:6, :44 | lsa_OpenPolicy, lsa_OpenPolicy2 | system_name (44) | policy_handle, error |
 * | lsarpc:14, :58, :68, :77 | lsa_LookupNames/2/3/4 | handle (not 77), names | – |
 * | lsarpc:15, :57, :76 | lsa_LookupSids/2/3 | handle (not 76), sid_count, sids (S-1-…) | – |
 * | lsarpc:45 | lsa_GetUserName | system_name | user, domain, error |
 * | eventlog:0, :12 | ElfrClearELFW/A | handle, backup_file | error |
 * | eventlog:1 | ElfrBackupELFW | handle, backup_file | error |
 * | eventlog:7, :8, :14 | ElfrOpenELW, RegisterEventSourceW, OpenELA | module_name | log_handle, error |
 * | eventlog:9 | ElfrOpenBELW | backup_file | log_handle, error |
 * | spoolss:1, :69 | RpcOpenPrinter(Ex) | printer | – |
 * | spoolss:9, :89 | RpcAddPrinterDriver(Ex) | server, level, driver_name, environment, driver_path, data_file, config_file, help_file, flags (89) | error |
 * | spoolss:14 | RpcAddPrintProcessor | server, environment, path, print_processor | error |
 * | spoolss:46 | RpcAddMonitor | server, monitor, environment, dll | error |
 * | drsuapi:3 | DsGetNCChanges | version, nc (naming context DN; versions 5, 8, 10, 11) | – |
 * | epm:3 | ept_map | interface (the name of the interface looked up, or its UUID) | port (the TCP port of the first tower returned) |
 * | isystemactivator:3, :4, remact:0 | RemoteGetClassObject, RemoteCreateInstance, RemoteActivation | clsid, class (only the classes used for lateral movement: MMC20.Application, ShellWindows, ShellBrowserWindow, Excel/Outlook.Application, WMI's WbemLevel1Login) | – |
 * | dispatch:5 | IDispatch::GetIDsOfNames | names (", "-joined) | – |
 * | dispatch:6 | IDispatch::Invoke | strings (the BSTR arguments, quoted, in the call's order) | – |
 * | rpc_netlogon:4 | NetrServerReqChallenge | server, computer_name, client_challenge (hex) | server_challenge, error |
 * | rpc_netlogon:15, :26 | NetrServerAuthenticate2/3 | server, account, channel_type, computer_name, client_credential (hex), negotiate_flags | account_rid (26), error |
 * | rpc_netlogon:6, :30 | NetrServerPasswordSet(2) | server, account, channel_type, computer_name, authenticator_credential (hex), new_password (all zeros / set) | error |
 *
 * ITaskSchedulerService is also looked up as `taskschedulerservice` (src/rpc/interfaces.ts) and `tsch`.
 * Strings longer than 32,768 characters are cut with a `…[N more]` mark; lists stop at 200
 * items with `…(+N)`.
 */
import { ATSVC } from './atsvc';
import { DISPATCH, ISYSTEMACTIVATOR, REMACT } from './dcom';
import { Decoder } from './common';
import { DRSUAPI } from './drsuapi';
import { EPM } from './epm';
import { EVENTLOG } from './eventlog';
import { LSARPC } from './lsarpc';
import { NETLOGON } from './netlogon';
import { SAMR } from './samr';
import { SPOOLSS } from './spoolss';
import { SRVSVC, WKSSVC } from './srvsvc';
import { SVCCTL } from './svcctl';
import { TSCH } from './tsch';
import { INITSHUTDOWN, WINREG } from './winreg';

const BY_IFACE: Record<string, Record<number, Decoder>> = {
  svcctl: SVCCTL,
  atsvc: ATSVC,
  ITaskSchedulerService: TSCH,
  // the same interface under the lower-case name src/rpc/interfaces.ts gives it, and the short one
  taskschedulerservice: TSCH,
  tsch: TSCH,
  winreg: WINREG,
  initshutdown: INITSHUTDOWN,
  srvsvc: SRVSVC,
  wkssvc: WKSSVC,
  samr: SAMR,
  lsarpc: LSARPC,
  eventlog: EVENTLOG,
  spoolss: SPOOLSS,
  drsuapi: DRSUAPI,
  rpc_netlogon: NETLOGON,
  netlogon: NETLOGON,
  isystemactivator: ISYSTEMACTIVATOR,
  remact: REMACT,
  dispatch: DISPATCH,
  epm: EPM,
};

/** `${iface}:${opnum}` → decoder (each one also satisfies the ArgDecoder contract) */
export const TABLE: ReadonlyMap<string, Decoder> = new Map(
  Object.entries(BY_IFACE).flatMap(([iface, ops]) => Object.entries(ops).map(([op, d]) => [`${iface}:${op}`, d] as [string, Decoder])),
);

/**
 * Decodes the arguments of one call. `ndr64` is for stubs in the NDR64 transfer syntax (the
 * presentation context's transfer syntax 71710533-…); NDR64 support covers the layouts tested
 * on real NDR64 traffic (see test/rpc) and is best effort elsewhere.
 */
export function decodeArgs(
  iface: string,
  opnum: number,
  request: Buffer | null,
  response: Buffer | null,
  littleEndian: boolean,
  ndr64 = false,
): Record<string, string> | null {
  try {
    const d = TABLE.get(`${iface}:${opnum}`);
    return d ? d(request, response, littleEndian, ndr64) : null;
  } catch {
    return null;
  }
}

/** whether (iface, opnum) has a decoder, so callers can skip keeping stubs they cannot use */
export const hasDecoder = (iface: string, opnum: number): boolean => TABLE.has(`${iface}:${opnum}`);
