import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { INTERFACES, lookupInterface, operationName } from '../../src/rpc/interfaces';

const CAPTURES = path.join(__dirname, '../../captures');
const CORPUS = path.join(__dirname, '../../../shared/corpus');

function truthFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...truthFiles(p));
    else if (e.name.endsWith('.truth.json')) out.push(p);
  }
  return out.sort();
}

interface TruthBind {
  frame: number;
  stream: number;
  uuid: string | null;
  interface: string | null;
}
interface TruthRequest {
  frame: number;
  stream: number;
  opnum: number;
  interface: string | null;
  operation: string | null;
}

const byName = (name: string) => INTERFACES.find((i) => i.name === name);

describe('interface table', () => {
  it('has canonical lower-case UUIDs, unique, and lower-case names', () => {
    const seen = new Set<string>();
    for (const i of INTERFACES) {
      expect(i.uuid, i.name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(seen.has(i.uuid), `duplicate ${i.uuid}`).toBe(false);
      seen.add(i.uuid);
      expect(i.name).toBe(i.name.toLowerCase());
      expect(i.version).toMatch(/^\d+\.\d+$/);
      expect(i.ops.length).toBeGreaterThan(0);
      for (const op of i.ops) if (op !== null) expect(op).toMatch(/^\S+$/);
    }
  });

  it('names the operations the brief confirmed from the truth files, and the lateral-movement ones', () => {
    const expectOps = (name: string, ops: Record<number, string>): void => {
      const i = byName(name);
      expect(i, name).toBeDefined();
      for (const [n, op] of Object.entries(ops)) expect(operationName(i!.uuid, Number(n)), `${name} ${n}`).toBe(op);
    };
    expectOps('svcctl', {
      0: 'CloseServiceHandle', 1: 'ControlService', 2: 'DeleteService', 6: 'QueryServiceStatus', 11: 'ChangeServiceConfigW',
      12: 'CreateServiceW', 14: 'EnumServicesStatusW', 15: 'OpenSCManagerW', 16: 'OpenServiceW', 17: 'QueryServiceConfigW',
      19: 'StartServiceW', 24: 'CreateServiceA', 27: 'OpenSCManagerA', 28: 'OpenServiceA', 31: 'StartServiceA',
      39: 'QueryServiceConfig2W', 40: 'QueryServiceStatusEx', 45: 'CreateServiceWOW64W',
    });
    expectOps('atsvc', { 0: 'JobAdd' });
    expectOps('taskschedulerservice', { 1: 'SchRpcRegisterTask', 12: 'SchRpcRun', 13: 'SchRpcDelete', 19: 'SchRpcEnableTask' });
    expectOps('winreg', { 1: 'OpenHKCU', 2: 'OpenHKLM', 3: 'OpenHKPD', 4: 'OpenHKU', 5: 'CloseKey', 6: 'CreateKey', 10: 'EnumValue', 15: 'OpenKey', 17: 'QueryValue', 20: 'SaveKey', 22: 'SetValue', 24: 'InitiateSystemShutdown', 26: 'GetVersion', 30: 'InitiateSystemShutdownEx' });
    expectOps('lsarpc', { 0: 'lsa_Close', 7: 'lsa_QueryInfoPolicy', 14: 'lsa_LookupNames', 15: 'lsa_LookupSids', 44: 'lsa_OpenPolicy2', 45: 'lsa_GetUserName', 46: 'lsa_QueryInfoPolicy2', 68: 'lsa_LookupNames3' });
    expectOps('samr', { 0: 'Connect', 1: 'Close', 5: 'LookupDomain', 6: 'EnumDomains', 7: 'OpenDomain', 13: 'EnumDomainUsers', 17: 'LookupNames', 34: 'OpenUser', 64: 'Connect5' });
    expectOps('srvsvc', { 8: 'NetConnEnum', 12: 'NetSessEnum', 15: 'NetShareEnumAll', 16: 'NetShareGetInfo', 21: 'NetSrvGetInfo', 28: 'NetRemoteTOD' });
    expectOps('wkssvc', { 0: 'NetWkstaGetInfo', 2: 'NetWkstaEnumUsers' });
    expectOps('drsuapi', { 0: 'DsBind', 1: 'DsUnbind', 3: 'DsGetNCChanges', 12: 'DsCrackNames', 16: 'DsGetDomainControllerInfo' });
    expectOps('spoolss', { 10: 'EnumPrinterDrivers', 14: 'AddPrintProcessor', 46: 'AddMonitor', 89: 'AddPrinterDriverEx' });
    expectOps('iremotewinspool', { 51: 'winspool_AsyncAddMonitor', 44: 'winspool_AsyncAddPrintProcessor' });
    expectOps('eventlog', { 0: 'ClearEventLogW', 12: 'ClearEventLogA' });
    expectOps('even6', { 6: 'EvtRpcClearLog' });
    expectOps('epm', { 3: 'Map' });
    expectOps('iwbemservices', { 20: 'ExecQuery', 24: 'ExecMethod' });
    expectOps('iwbemlevel1login', { 6: 'NTLMLogin' });
    expectOps('isystemactivator', { 4: 'RemoteCreateInstance' });
    expectOps('oxid', { 5: 'ServerAlive2' });
    expectOps('initshutdown', { 0: 'Init', 2: 'InitEx' });
    expectOps('windowsshutdown', { 0: 'WsdrInitiateShutdown' });
    expectOps('seclogon', { 0: 'SeclCreateProcessWithLogonW' });
    expectOps('rpc_netlogon', { 4: 'NetrServerReqChallenge', 26: 'NetrServerAuthenticate3', 30: 'NetrServerPasswordSet2' });
    for (const name of ['dssetup', 'netdfs', 'mgmt']) expect(byName(name), name).toBeDefined();
  });

  it('looks UUIDs up in any letter case; unknown UUIDs and opnums give undefined / null', () => {
    expect(lookupInterface('367ABB81-9844-35F1-AD32-98F038001003')?.name).toBe('svcctl');
    expect(lookupInterface('00000000-0000-0000-0000-000000000000')).toBeUndefined();
    const svcctl = '367abb81-9844-35f1-ad32-98f038001003';
    expect(operationName(svcctl, 46)).toBeNull(); // a hole: not used on the wire
    expect(operationName(svcctl, 9999)).toBeNull();
    expect(operationName(svcctl, -1)).toBeNull();
    expect(operationName(svcctl, 1.5)).toBeNull();
    expect(operationName(null, 12)).toBeNull();
    expect(operationName('00000000-0000-0000-0000-000000000000', 0)).toBeNull();
  });
});

/**
 * tshark's names in the truth files. A request carries no UUID there, only tshark's interface
 * name, so it is joined to the UUIDs bound earlier on the same TCP stream: one of them must be
 * named like tshark names the request, and give tshark's operation name for the opnum.
 * Skipped: tshark's "unknown operation N" (tshark has no name to compare with), requests tshark
 * could not attribute (null interface), and mdssvc / mapi, whose "operation" is tshark's Info
 * column with decoded arguments appended ("open: /System/Volumes/…", "EcDoConnect: /o=…").
 */
const SKIP_IFACES = new Set(['mdssvc', 'mapi']);

function checkTruth(files: string[]): { requests: number; binds: number } {
  let requests = 0;
  let binds = 0;
  for (const f of files) {
    const t = JSON.parse(fs.readFileSync(f, 'utf8')) as { dcerpc?: { binds?: TruthBind[]; requests?: TruthRequest[] } };
    const bs = t.dcerpc?.binds ?? [];
    const rs = t.dcerpc?.requests ?? [];
    for (const b of bs) {
      if (b.uuid === null || b.interface === null) continue;
      // tshark's bind column uses the registration name (EPMv4, IRemUnknown2, IOXIDResolver), not the filter name
      const name = lookupInterface(b.uuid)?.name;
      expect(name, `${f} bind ${b.frame} ${b.uuid} ${b.interface}`).toBeDefined();
      binds++;
    }
    for (const r of rs) {
      if (r.interface === null || r.operation === null) continue;
      if (/^unknown operation \d+$/.test(r.operation) || SKIP_IFACES.has(r.interface)) continue;
      const want = r.interface.toLowerCase();
      const bound = bs.filter((b) => b.stream === r.stream && b.frame <= r.frame && b.uuid !== null).map((b) => b.uuid as string);
      let uuid = bound.find((u) => lookupInterface(u)?.name === want);
      if (bound.length === 0) uuid = byName(want)?.uuid; // bind not captured: the name alone
      expect(uuid, `${path.basename(f)} frame ${r.frame}: no bound UUID is named ${want} (bound: ${bound.join(', ')})`).toBeDefined();
      expect(operationName(uuid as string, r.opnum), `${path.basename(f)} frame ${r.frame} ${want} opnum ${r.opnum}`).toBe(r.operation);
      requests++;
    }
  }
  return { requests, binds };
}

describe('names agree with tshark in the truth files', () => {
  it('lab captures', () => {
    const files = truthFiles(CAPTURES);
    expect(files.length).toBeGreaterThan(0);
    const n = checkTruth(files);
    expect(n.requests).toBeGreaterThan(40);
  });

  it.skipIf(!fs.existsSync(CORPUS))('shared corpus', () => {
    const n = checkTruth(truthFiles(CORPUS));
    expect(n.requests).toBeGreaterThan(1000);
    expect(n.binds).toBeGreaterThan(100);
  });
});
