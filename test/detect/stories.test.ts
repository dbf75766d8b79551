/**
 * Story correlation from synthetic event sequences shaped like the lab captures: one story per
 * chain per client/target/window whatever the number and order of the writes, tool attribution by
 * name and by shape, weak chains, allow-lists and switches on stories, bounded memory.
 */
import { describe, expect, it } from 'vitest';
import type { SmbEvent } from '../../src/events/event';
import { compileConfig, parseRulesConfig } from '../../src/detect/config';
import { STORY_RULES } from '../../src/detect/detections';
import { StoryBuilder, tsSeconds } from '../../src/detect/stories';
import { at, detect, ev, open, put, rpc } from './events';

const FS = '198.18.10.10';
const WKS = '198.18.10.21';
const lab = (o: Partial<SmbEvent>): Partial<SmbEvent> => ({ src_ip: WKS, dst_ip: FS, user: 'alice', domain: 'LAB', ...o });

let frame = 0;
/** stamps time and frame, applies flags and rules: what the builder is given by the pipeline */
function step(t: number, e: SmbEvent): SmbEvent {
  e.ts = at(t);
  e.frame = ++frame;
  return detect(e);
}

function run(events: SmbEvent[], b = new StoryBuilder()): SmbEvent[] {
  for (const e of events) b.add(e);
  return b.finish();
}

const CMD_SMBEXEC = '%COMSPEC% /Q /c echo cd  ^> \\\\127.0.0.1\\C$\\__output 2^>^&1 > %SYSTEMROOT%\\execute.bat & %COMSPEC% /Q /c %SYSTEMROOT%\\execute.bat & del %SYSTEMROOT%\\execute.bat';

function psexecChain(t0: number, host = FS, client = WKS): SmbEvent[] {
  const o = { dst_ip: host, src_ip: client, user: 'admin', domain: 'CONTOSO' };
  const admin = `\\\\${host}\\ADMIN$`;
  return [
    step(t0, put('ADMIN$', 'PSEXESVC.exe', { ...o, share: admin })),
    step(t0 + 0.01, ev({ ...o, action: 'write', share: admin, path: 'PSEXESVC.exe', bytes: 383_264, access: [], disposition: null })),
    step(t0 + 0.3, rpc('svcctl', 'OpenSCManagerW', null, o)),
    step(t0 + 0.31, rpc('svcctl', 'CreateServiceW', { service_name: 'PSEXESVC', display_name: 'PSEXESVC', binary_path: '%SystemRoot%\\PSEXESVC.exe' }, { ...o, status: 'nca_s_op_rng_error' })),
    step(t0 + 0.32, rpc('svcctl', 'OpenServiceW', { service_name: 'PSEXESVC' }, { ...o, status: 'ERROR_SERVICE_DOES_NOT_EXIST' })),
    step(t0 + 0.40, open('IPC$', 'PSEXESVC', { ...o, share: `\\\\${host}\\IPC$`, status: 'STATUS_OBJECT_NAME_NOT_FOUND' })),
    step(t0 + 0.41, open('IPC$', 'PSEXESVC-WKS01-4242-stdin', { ...o, share: `\\\\${host}\\IPC$`, status: 'STATUS_OBJECT_NAME_NOT_FOUND' })),
    step(t0 + 0.42, open('IPC$', 'PSEXESVC-WKS01-4242-stdout', { ...o, share: `\\\\${host}\\IPC$`, status: 'STATUS_OBJECT_NAME_NOT_FOUND' })),
    step(t0 + 0.43, open('IPC$', 'PSEXESVC-WKS01-4242-stderr', { ...o, share: `\\\\${host}\\IPC$`, status: 'STATUS_OBJECT_NAME_NOT_FOUND' })),
    step(t0 + 0.5, open('ADMIN$', 'PSEXESVC.exe', { ...o, share: admin, action: 'delete' })),
  ];
}

describe('PsExec (07-psexec-footprint shape)', () => {
  it('one high STORY-PSEXEC with every step, across trees and failures', () => {
    const events = psexecChain(10);
    const [s, ...rest] = run(events);
    expect(rest).toEqual([]);
    expect(s.action).toBe('story');
    expect(s.rules[0]).toBe('STORY-PSEXEC');
    expect(s.rules).toEqual(expect.arrayContaining(['SMB-ADMIN-SHARE-WRITE', 'PSEXEC-PSEXESVC', 'SVC-CREATE']));
    expect(s.severity).toBe('high');
    expect(s.ts).toBe(events[0].ts);
    expect(s.frame).toBe(events[0].frame);
    expect(s.capture).toBe('lab.pcap');
    expect(s.src_ip).toBe(WKS);
    expect(s.dst_ip).toBe(FS);
    expect(s.user).toBe('admin');
    // every step with a rule hit, in time order; OpenSCManagerW carries none, OpenServiceW(PSEXESVC) does
    const withHits = events.filter((e) => e.rules.length > 0).map((e) => `lab.pcap#${e.frame}`);
    expect(s.refs).toEqual(withHits);
    expect(s.refs).toHaveLength(9);
    expect(s.attack).toEqual(expect.arrayContaining(['T1021.002', 'T1570', 'T1569.002', 'T1543.003']));
    expect(s.summary).toBe(
      `${WKS} (CONTOSO\\admin) copied PSEXESVC.exe to \\\\${FS}\\ADMIN$, tried to create service PSEXESVC (%SystemRoot%\\PSEXESVC.exe), `
      + 'tried to open pipes PSEXESVC, PSEXESVC-WKS01-4242-stdin, PSEXESVC-WKS01-4242-stdout, PSEXESVC-WKS01-4242-stderr (client host WKS01, process 4242) '
      + 'and deleted PSEXESVC.exe — PsExec [failed: CreateServiceW nca_s_op_rng_error]');
  });

  it('PsExec -r NAME: a service NAME with NAME-host-pid-std* pipes is PsExec', () => {
    const o = lab({});
    const [s, ...rest] = run([
      step(1, put('ADMIN$', 'MySvc.exe', o)),
      step(2, rpc('svcctl', 'CreateServiceW', { service_name: 'MySvc', binary_path: '%SystemRoot%\\MySvc.exe' }, o)),
      step(3, rpc('svcctl', 'StartServiceW', { service_name: 'MySvc' }, o)),
      step(4, open('IPC$', 'MySvc-WKS01-77-stdin', o)),
    ]);
    expect(rest).toEqual([]);
    expect(s.rules[0]).toBe('STORY-PSEXEC');
    expect(s.summary).toContain('started it');
    expect(s.summary).toContain('(client host WKS01, process 77)');
  });
});

describe('impacket psexec.py (06-impacket-psexec shape)', () => {
  it('random 8-letter exe named by the service binary path: one story, whatever the number and order of writes', () => {
    const o = lab({ workstation: '' });
    const events = [
      step(1.0, rpc('srvsvc', 'NetShareEnumAll', null, o)),
      step(1.2, put('ADMIN$', 'yRlahTjG.exe', o)),
      step(1.3, rpc('svcctl', 'CreateServiceW', { service_name: 'FxRq', binary_path: '%systemroot%\\yRlahTjG.exe' }, { ...o, status: 'nca_s_op_rng_error' })),
      // writes reported after the service call (emitted at CLOSE), and repeated
      step(1.31, ev({ ...o, action: 'write', share: `\\\\${FS}\\ADMIN$`, path: 'yRlahTjG.exe', bytes: 65_536, access: [], disposition: null })),
      step(1.32, ev({ ...o, action: 'write', share: `\\\\${FS}\\ADMIN$`, path: 'yRlahTjG.exe', bytes: 4_096, access: [], disposition: null })),
      step(1.33, put('ADMIN$', 'yRlahTjG.exe', { ...o, frame: 0 })),
    ];
    const stories = run(events);
    expect(stories).toHaveLength(1);
    const [s] = stories;
    expect(s.rules[0]).toBe('STORY-IMPACKET-PSEXEC');
    expect(s.severity).toBe('high');
    expect(s.refs).toEqual(events.slice(1).map((e) => `lab.pcap#${e.frame}`));
    expect(s.summary).toBe(`${WKS} (LAB\\alice) copied yRlahTjG.exe to \\\\${FS}\\ADMIN$ and tried to create service FxRq (%systemroot%\\yRlahTjG.exe) — impacket psexec.py [failed: CreateServiceW nca_s_op_rng_error]`);
  });

  it('the same shape in reverse order (service call first) gives the same story kind', () => {
    const o = lab({});
    const stories = run([
      step(1, rpc('svcctl', 'CreateServiceW', { service_name: 'AbCd', binary_path: '%systemroot%\\QwErTyUi.exe' }, o)),
      step(2, put('ADMIN$', 'QwErTyUi.exe', o)),
      step(3, open('IPC$', 'RemCom_communicaton', o)),
    ]);
    expect(stories.map((s) => s.rules[0])).toEqual(['STORY-IMPACKET-PSEXEC']);
    expect(stories[0].summary).toContain('opened pipes RemCom_communicaton');
  });
});

describe('impacket smbexec.py and services.py (08-smbexec-services shape)', () => {
  it('a %COMSPEC% service is STORY-SMBEXEC naming the command; a lone services.py create is a medium STORY-SERVICE-EXEC', () => {
    const o = lab({ workstation: '' });
    const stories = run([
      step(1, rpc('svcctl', 'OpenSCManagerW', null, o)),
      step(1.1, rpc('svcctl', 'CreateServiceW', { service_name: 'BTOBTO', binary_path: CMD_SMBEXEC }, { ...o, status: 'nca_s_op_rng_error' })),
      step(1.4, rpc('svcctl', 'CreateServiceW', { service_name: 'LabUpdater', binary_path: 'C:\\Windows\\Temp\\svcupdate.exe' }, { ...o, status: 'nca_s_op_rng_error' })),
      step(1.6, rpc('svcctl', 'OpenServiceW', { service_name: 'LabUpdater' }, { ...o, status: 'ERROR_SERVICE_DOES_NOT_EXIST' })),
    ]);
    expect(stories.map((s) => [s.rules[0], s.severity])).toEqual([['STORY-SMBEXEC', 'high'], ['STORY-SERVICE-EXEC', 'medium']]);
    expect(stories[0].summary).toMatch(/^198\.18\.10\.21 \(LAB\\alice\) tried to create service BTOBTO to run «cd» \(%COMSPEC% \/Q \/c echo cd/);
    expect(stories[0].summary).toContain(`on ${FS} — impacket smbexec.py`);
    expect(stories[1].summary).toBe(`${WKS} (LAB\\alice) tried to create service LabUpdater (C:\\Windows\\Temp\\svcupdate.exe) on ${FS} — remote service execution [failed: CreateServiceW nca_s_op_rng_error]`);
  });

  it('results hidden by packet privacy (RESPONSE_ENCRYPTED) are said to be encrypted, not failed', () => {
    const o = lab({});
    const [s] = run([
      step(2, rpc('svcctl', 'CreateServiceA', { service_name: 'evil', binary_path: 'C:\\evil.exe' }, { ...o, status: 'RESPONSE_ENCRYPTED' })),
      step(2.1, rpc('svcctl', 'StartServiceA', { service_name: 'evil' }, { ...o, status: 'RESPONSE_ENCRYPTED' })),
    ]);
    expect(s.summary).toContain('created service evil');
    expect(s.summary).not.toContain('failed');
    expect(s.summary).toContain('[result encrypted: CreateServiceA, StartServiceA]');
  });

  it('several smbexec commands and their __output reads are one story', () => {
    const o = lab({});
    const evs: SmbEvent[] = [];
    for (let i = 0; i < 5; i++) {
      const cmd = CMD_SMBEXEC.replace('echo cd ', `echo whoami${i} `);
      evs.push(step(10 + i, rpc('svcctl', 'CreateServiceW', { service_name: 'BTOBTO', binary_path: cmd }, o)));
      evs.push(step(10 + i + 0.1, rpc('svcctl', 'StartServiceW', { service_name: 'BTOBTO' }, o)));
      evs.push(step(10 + i + 0.2, open('C$', '__output', { ...o, action: 'read', share: '\\\\127.0.0.1\\C$' })));
    }
    const stories = run(evs);
    expect(stories).toHaveLength(1);
    expect(stories[0].rules[0]).toBe('STORY-SMBEXEC');
    expect(stories[0].refs).toHaveLength(15);
    expect(stories[0].summary).toContain('(+2 more services)');
    expect(stories[0].summary).toContain('read output C$\\__output');
  });
});

describe('impacket atexec.py', () => {
  it('task with redirected output, run, output read and deleted: one STORY-ATEXEC', () => {
    const o = lab({});
    const args = { task_path: '\\aBcDeFgH', command: 'cmd.exe', arguments: '/C whoami > %windir%\\Temp\\aBcDeFgH.tmp 2>&1' };
    const stories = run([
      step(1, rpc('taskschedulerservice', 'SchRpcRegisterTask', args, { ...o, path: 'atsvc' })),
      step(2, rpc('taskschedulerservice', 'SchRpcRun', { task_path: '\\aBcDeFgH' }, { ...o, path: 'atsvc' })),
      step(3, rpc('taskschedulerservice', 'SchRpcDelete', { task_path: '\\aBcDeFgH' }, { ...o, path: 'atsvc' })),
      step(4, open('ADMIN$', 'Temp\\aBcDeFgH.tmp', { ...o, action: 'read' })),
      step(5, open('ADMIN$', 'Temp\\aBcDeFgH.tmp', { ...o, action: 'delete' })),
    ]);
    expect(stories).toHaveLength(1);
    const [s] = stories;
    expect(s.rules[0]).toBe('STORY-ATEXEC');
    expect(s.rules).toEqual(expect.arrayContaining(['IMPACKET-ATEXEC', 'TSCH-REGISTER-TASK', 'TSCH-RUN-TASK', 'IMPACKET-OUTPUT-FILE']));
    expect(s.refs).toHaveLength(4);
    expect(s.severity).toBe('high');
    expect(s.summary).toBe(`${WKS} (LAB\\alice) registered task \\aBcDeFgH running «cmd.exe /C whoami > %windir%\\Temp\\aBcDeFgH.tmp 2>&1», ran it and read Temp\\aBcDeFgH.tmp from \\\\${FS}\\ADMIN$ on ${FS} — impacket atexec.py`);
  });

  it('a plain remote task (no redirect) is STORY-TASK-EXEC, medium when never run', () => {
    const o = lab({});
    const [s] = run([step(1, rpc('taskschedulerservice', 'SchRpcRegisterTask', { task_path: '\\Updater', command: 'C:\\Tools\\upd.exe' }, o))]);
    expect([s.rules[0], s.severity]).toEqual(['STORY-TASK-EXEC', 'medium']);
    const [r] = run([
      step(1, rpc('atsvc', 'JobAdd', { command: 'C:\\Tools\\upd.exe' }, o)),
      step(2, rpc('taskschedulerservice', 'SchRpcRun', { task_path: '\\At1' }, o)),
    ]);
    expect([r.rules[0], r.severity]).toEqual(['STORY-TASK-EXEC', 'high']);
    expect(r.summary).toContain('added AT job «C:\\Tools\\upd.exe»');
  });
});

describe('weak and benign', () => {
  it('05-admin-share-exe-copy: an executable copied to ADMIN$ and C$ with nothing to run it is one weak staging story', () => {
    const o = lab({});
    const events = [
      step(1, put('ADMIN$', 'svcupdate.exe', o)),
      step(1.1, ev({ ...o, action: 'write', share: `\\\\${FS}\\ADMIN$`, path: 'svcupdate.exe', bytes: 6144, access: [], disposition: null })),
      step(2, put('C$', 'Windows\\Temp\\svcupdate.exe', o)),
    ];
    expect(events.every((e) => e.rules.includes('SMB-ADMIN-SHARE-WRITE'))).toBe(true);
    const stories = run(events);
    expect(stories.map((x) => [x.rules[0], x.severity])).toEqual([['STORY-ADMIN-SHARE-STAGING', 'medium']]);
    expect(stories[0].summary).toContain('nothing was seen running it');
    expect(stories[0].refs).toHaveLength(3);
  });

  it('an upload then a start of an existing service is a medium service story; a start alone is none', () => {
    const o = lab({});
    const [s, ...rest] = run([step(1, put('ADMIN$', 'x.exe', o)), step(2, rpc('svcctl', 'StartServiceW', { service_name: 'Spooler' }, o))]);
    expect(rest).toEqual([]);
    expect([s.rules[0], s.severity]).toEqual(['STORY-SERVICE-EXEC', 'medium']);
    expect(run([step(1, rpc('svcctl', 'StartServiceW', { service_name: 'Spooler' }, o))])).toEqual([]);
  });

  it('11-benign-baseline: file I/O on docs and srvsvc gives no story', () => {
    const o = lab({ share: `\\\\FS01\\docs` });
    expect(run([
      step(1, rpc('srvsvc', 'NetShareEnumAll', null, lab({}))),
      step(2, put('docs', 'Projects\\Apollo\\minutes 2024-09-12.docx', o)),
      step(3, open('docs', 'Finance\\Q3 budget.xlsx', { ...o, action: 'read' })),
    ])).toEqual([]);
  });
});

describe('grouping by client, target and time', () => {
  it('two chains on two hosts are two stories', () => {
    const stories = run([...psexecChain(1, '10.0.0.20'), ...psexecChain(2, '10.0.0.30')].sort((a, b) => (a.ts < b.ts ? -1 : 1)));
    expect(stories.map((s) => [s.rules[0], s.dst_ip])).toEqual([['STORY-PSEXEC', '10.0.0.20'], ['STORY-PSEXEC', '10.0.0.30']]);
  });

  it('the same chain twice on one host: one story within the window, two beyond it', () => {
    expect(run([...psexecChain(1), ...psexecChain(300)])).toHaveLength(1);
    expect(run([...psexecChain(1), ...psexecChain(1000)])).toHaveLength(2);
    const short = new StoryBuilder({ windowSeconds: 60 });
    expect(run([...psexecChain(1), ...psexecChain(300)], short)).toHaveLength(2);
  });

  it('take() hands out stories once their window has closed, before finish()', () => {
    const b = new StoryBuilder();
    for (const e of psexecChain(1)) b.add(e);
    expect(b.take()).toEqual([]);
    b.add(step(2000, rpc('svcctl', 'CreateServiceW', { service_name: 'x' }, { dst_ip: '10.9.9.9' })));
    expect(b.take().map((s) => s.rules[0])).toEqual(['STORY-PSEXEC']);
    expect(b.finish().map((s) => s.rules[0])).toEqual(['STORY-SERVICE-EXEC']);
  });

  it('tsSeconds keeps microseconds apart (windows need no more)', () => {
    expect(tsSeconds('2024-05-01T10:00:00.000001Z') - tsSeconds('2024-05-01T10:00:00Z')).toBeGreaterThan(0);
    expect(tsSeconds('2024-05-01T10:00:00.123456789Z')).toBeCloseTo(tsSeconds('2024-05-01T10:00:00Z') + 0.123456789, 5);
    expect(tsSeconds('garbage')).toBeNaN();
  });
});

describe('DCSync and secretsdump', () => {
  const dc = { dst_ip: '10.0.0.1', share: null, path: null, dst_port: 49667 };
  const drs = (t: number, op: string, o: Partial<SmbEvent> = {}) => step(t, rpc('drsuapi', op, null, { ...dc, ...o }));

  it('DsGetNCChanges ×3 from a client is one STORY-DCSYNC', () => {
    const stories = run([drs(1, 'DsBind'), drs(1.1, 'DsCrackNames'), drs(1.2, 'DsGetNCChanges'), drs(1.3, 'DsGetNCChanges'), drs(1.4, 'DsGetNCChanges')]);
    expect(stories).toHaveLength(1);
    expect(stories[0].rules).toEqual(['STORY-DCSYNC', 'DRS-REPLICATION']);
    expect(stories[0].summary).toBe('10.0.0.5 (CONTOSO\\admin) requested directory replication from 10.0.0.1 (DsGetNCChanges ×3) — DCSync, unless 10.0.0.5 is a domain controller');
  });

  it('allow-listed DCs: no hit, no story; a story can also be allowed or disabled by itself', () => {
    const cfg = compileConfig(parseRulesConfig('allow: [ { rules: [DRS-REPLICATION], client: 10.0.0.0/30, note: DCs } ]', 'r.yaml'));
    const e = detect(rpc('drsuapi', 'DsGetNCChanges', null, { ...dc, src_ip: '10.0.0.2' }), cfg);
    expect(e.rules).toEqual([]);
    expect(run([e], new StoryBuilder({ config: cfg }))).toEqual([]);
    const storyAllowed = compileConfig(parseRulesConfig('allow: [ { rules: [STORY-DCSYNC], client: 10.0.0.5 } ]', 'r.yaml'));
    expect(run([drs(1, 'DsGetNCChanges')], new StoryBuilder({ config: storyAllowed }))).toEqual([]);
    const off = compileConfig(parseRulesConfig('rules: { STORY-DCSYNC: { enabled: false } }', 'r.yaml'));
    expect(run([drs(1, 'DsGetNCChanges')], new StoryBuilder({ config: off }))).toEqual([]);
    const low = compileConfig(parseRulesConfig('rules: { STORY-DCSYNC: { severity: low } }', 'r.yaml'));
    expect(run([drs(1, 'DsGetNCChanges')], new StoryBuilder({ config: low }))[0].severity).toBe('low');
  });

  it('STORY-SECRETSDUMP: DCSync only with replication, a Run-key value (any of its forms) is persistence (found in review)', () => {
    const o = { dst_ip: '10.0.0.1' };
    for (const [key, persistence] of [
      ['HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\RunOnceEx', true],
      ['HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer\\Run', true],
      ['HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Runner', false],
    ] as const) {
      const stories = run([
        step(1, rpc('winreg', 'SaveKey', { key: 'HKLM\\SAM', file: 'x.tmp' }, o)),
        step(2, rpc('winreg', 'SetValue', { key, value_name: 'v', data: 'c:\\x.exe' }, o)),
      ]);
      expect(stories.map((x) => x.rules[0])).toEqual(['STORY-SECRETSDUMP']);
      expect(stories[0].attack.includes('T1547.001')).toBe(persistence);
      expect(stories[0].attack).not.toContain('T1003.006');
      expect(stories[0].summary).toContain(`wrote ${key}\\v = c:\\x.exe`);
    }
  });

  it('remote registry hive saves with DRS replication are one STORY-SECRETSDUMP', () => {
    const o = { dst_ip: '10.0.0.1' };
    const stories = run([
      step(1, rpc('svcctl', 'StartServiceW', { service_name: 'RemoteRegistry' }, o)),
      step(2, rpc('winreg', 'OpenKey', { key: 'SYSTEM\\CurrentControlSet\\Control\\Lsa\\JD' }, o)),
      step(3, rpc('winreg', 'SaveKey', { file: 'qWeRtYuI.tmp' }, o)),
      step(4, open('ADMIN$', 'SYSTEM32\\qWeRtYuI.tmp', { ...o, action: 'read', share: '\\\\10.0.0.1\\ADMIN$' })),
      drs(5, 'DsGetNCChanges'),
    ]);
    expect(stories.map((s) => s.rules[0])).toEqual(['STORY-SECRETSDUMP']);
    expect(stories[0].refs).toHaveLength(5);
    expect(stories[0].summary).toContain('started RemoteRegistry, saved qWeRtYuI.tmp, opened SYSTEM\\CurrentControlSet\\Control\\Lsa\\JD, read SYSTEM32\\qWeRtYuI.tmp');
    expect(stories[0].summary).toContain('requested directory replication (DsGetNCChanges ×1)');
  });
});

describe('WMI', () => {
  it('ExecMethod and __<time> output files: STORY-WMIEXEC; ExecMethod alone: none', () => {
    const o = { share: null, path: null, dst_port: 49670 };
    const [s, ...rest] = run([
      step(1, rpc('iwbemservices', 'ExecMethod', null, o)),
      step(2, open('ADMIN$', '__1714557600.1234567', { action: 'read' })),
    ]);
    expect(rest).toEqual([]);
    expect([s.rules[0], s.severity]).toEqual(['STORY-WMIEXEC', 'high']);
    expect(run([step(1, rpc('iwbemservices', 'ExecMethod', null, o))])).toEqual([]);
  });
});

describe('DISCOVERY-BURST', () => {
  const ops: [string, string][] = [['srvsvc', 'NetShareEnumAll'], ['srvsvc', 'NetSrvGetInfo'], ['wkssvc', 'NetWkstaGetInfo'], ['samr', 'Connect'], ['samr', 'EnumDomains'],
    ['samr', 'LookupDomain'], ['samr', 'EnumDomainUsers'], ['samr', 'EnumDomainGroups'], ['samr', 'EnumDomainAliases'], ['samr', 'Close'],
    ['lsarpc', 'lsa_QueryInfoPolicy'], ['lsarpc', 'lsa_LookupSids'], ['samr', 'QueryUserInfo2']];

  it('09-discovery: eleven distinct calls in a second are one medium hit naming them', () => {
    const stories = run(ops.map(([i, o], n) => step(1 + n * 0.05, rpc(i, o, null, lab({ path: i })))));
    expect(stories).toHaveLength(1);
    const [s] = stories;
    expect(s.rules[0]).toBe('DISCOVERY-BURST');
    expect(s.severity).toBe('medium');
    // samr Connect and Close are not discovery by themselves
    expect(s.refs).toHaveLength(11);
    expect(s.attack).toEqual(['T1018', 'T1033', 'T1082', 'T1087', 'T1135']);
    expect(s.summary).toMatch(/^198\.18\.10\.21 \(LAB\\alice\) made 11 distinct discovery calls to 198\.18\.10\.10 in 0\.\d s: srvsvc NetShareEnumAll, srvsvc NetSrvGetInfo, /);
  });

  it('below the threshold, or spread wider than the window, or repeats of one call: no hit', () => {
    expect(run(ops.slice(0, 4).map(([i, o], n) => step(1 + n, rpc(i, o))))).toEqual([]);
    expect(run(ops.slice(0, 8).map(([i, o], n) => step(1 + n * 30, rpc(i, o))))).toEqual([]);
    expect(run(Array.from({ length: 50 }, (_, n) => step(1 + n * 0.1, rpc('srvsvc', 'NetShareEnumAll'))))).toEqual([]);
  });

  it('threshold and window come from the config', () => {
    const cfg = compileConfig(parseRulesConfig('rules: { DISCOVERY-BURST: { min_operations: 3, window_seconds: 10 } }', 'r.yaml'));
    expect(run(ops.slice(0, 4).map(([i, o], n) => step(1 + n, rpc(i, o))), new StoryBuilder({ config: cfg }))).toHaveLength(1);
  });
});

describe('bounded memory', () => {
  it('100k events without rule hits leave no state', () => {
    const b = new StoryBuilder();
    for (let i = 0; i < 100_000; i++) b.add(ev({ ts: at(i * 0.01), frame: i + 1, src_ip: `10.1.${(i >> 8) & 255}.${i & 255}`, path: `f${i}.txt` }));
    expect(b.stats()).toMatchObject({ events: 100_000, steps: 0, pairs: 0, steps_held: 0 });
    expect(b.finish()).toEqual([]);
  });

  it('100k unrelated hits from many clients stay within maxPairs and maxTotalSteps (oldest closed early, counted)', () => {
    const b = new StoryBuilder({ maxPairs: 1_000, maxTotalSteps: 5_000 });
    let peakPairs = 0;
    let peakSteps = 0;
    const tpl = detect(put('ADMIN$', 'tool.exe'));
    for (let i = 0; i < 100_000; i++) {
      b.add({ ...tpl, ts: at(i * 0.001), frame: i + 1, src_ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` });
      if (i % 1000 === 0) { const st = b.stats(); peakPairs = Math.max(peakPairs, st.pairs); peakSteps = Math.max(peakSteps, st.steps_held); }
    }
    const st = b.stats();
    expect(st.steps).toBe(100_000);
    expect(peakPairs).toBeLessThanOrEqual(1_000);
    expect(peakSteps).toBeLessThanOrEqual(5_000);
    expect(st.pairs_closed_early).toBeGreaterThanOrEqual(99_000);
    // each client's lone upload is a staging story of its own, never a chain with another's
    const rest = [...b.take(), ...b.finish()];
    expect(rest.every((x) => x.rules[0] === 'STORY-ADMIN-SHARE-STAGING' && x.refs.length === 1)).toBe(true);
    expect(b.stats()).toMatchObject({ pairs: 0, steps_held: 0 });
  });

  it('one pair flooding steps keeps the newest maxStepsPerPair and counts the rest', () => {
    const b = new StoryBuilder({ maxStepsPerPair: 500 });
    const tpl = detect(put('ADMIN$', 'tool.exe'));
    for (let i = 0; i < 100_000; i++) b.add({ ...tpl, ts: at(i * 0.001), frame: i + 1 });
    b.add(step(101, rpc('svcctl', 'CreateServiceW', { service_name: 'T', binary_path: 'C:\\Windows\\tool.exe' })));
    expect(b.stats()).toMatchObject({ steps_held: 500, steps_dropped: 99_501 });
    const [s] = b.finish();
    expect(s.rules[0]).toBe('STORY-SERVICE-EXEC');
    expect(s.refs).toHaveLength(500);
  });
});

// Found in the review of the lateral-movement detections on the corpus (helper, 2026-12-02)
describe('results and single-step chains', () => {
  const dc = { dst_ip: '10.0.0.1', share: null, path: null, dst_port: 49668 };
  it('a Run-key value written with nothing else around it is STORY-RUN-KEY (T1547.001)', () => {
    const stories = run([step(1, rpc('winreg', 'SetValue', { key: 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run', value_name: 'Osa32', data: 'NTOSA32.EXE' }, { dst_ip: '10.0.0.1' }))]);
    expect(stories.map((s) => s.rules[0])).toEqual(['STORY-RUN-KEY']);
    expect(stories[0].attack).toEqual(['T1547.001', 'T1112']);
    expect(stories[0].summary).toBe('10.0.0.5 (CONTOSO\\admin) wrote HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\Osa32 = NTOSA32.EXE on 10.0.0.1 — registry Run-key persistence (runs at every logon or boot)');
    // any other value is a registry change, not a story
    expect(run([step(2, rpc('winreg', 'SetValue', { key: 'HKLM\\SOFTWARE\\Vendor', value_name: 'x' }, { dst_ip: '10.0.0.1' }))])).toEqual([]);
  });
  it('Zerologon: zero-credential authentications, the password set to zeros and the replication that follows are one STORY-ZEROLOGON', () => {
    const auth = (t: number, status: string) => {
      const e = rpc('rpc_netlogon', 'NetrServerAuthenticate3', { account: 'DC01$', client_credential: '0000000000000000' }, dc);
      e.status = status;
      return step(t, e);
    };
    const set = rpc('rpc_netlogon', 'NetrServerPasswordSet2', { account: 'DC01$', authenticator_credential: '0000000000000000', new_password: 'all zeros' }, dc);
    set.status = 'STATUS_SUCCESS';
    const stories = run([auth(1, 'STATUS_ACCESS_DENIED'), auth(1.1, 'STATUS_ACCESS_DENIED'), auth(1.2, 'STATUS_SUCCESS'), step(1.3, set),
      step(5, rpc('drsuapi', 'DsGetNCChanges', null, { ...dc, dst_port: 49667, user: 'DC01$', domain: 'CONTOSO' }))]);
    expect(stories.map((s) => s.rules[0])).toEqual(['STORY-ZEROLOGON']);
    expect(stories[0].summary).toBe("10.0.0.5 (CONTOSO\\admin) sent 3 netlogon authentication(s) with a zero credential for DC01$ (2 refused, then accepted), set the machine account's password to zeros (NetrServerPasswordSet2) and requested directory replication (DsGetNCChanges ×1, as CONTOSO\\DC01$) on 10.0.0.1 — Zerologon (CVE-2020-1472)");
    expect(stories[0].attack).toEqual(['T1210', 'T1003.006']);
    expect(stories[0].severity).toBe('high');
    // every attempt refused: told as such (a weak chain for the builder; storiesFrom raises it to its high steps)
    const tried = run([auth(10, 'STATUS_ACCESS_DENIED'), auth(10.1, 'STATUS_ACCESS_DENIED')]);
    expect(tried[0].summary).toContain('(all refused)');
    expect(tried[0].severity).toBe('medium');
  });
  it('a start answered ERROR_SERVICE_REQUEST_TIMEOUT ran its program: not "tried to start", not a failure', () => {
    const create = step(1, rpc('svcctl', 'CreateServiceW', { service_name: 'upd', binary_path: 'C:\\Windows\\upd.exe' }, { dst_ip: '10.0.0.1' }));
    create.status = 'ERROR_SUCCESS';
    const start = step(2, rpc('svcctl', 'StartServiceW', { service_name: 'upd' }, { dst_ip: '10.0.0.1' }));
    start.status = 'ERROR_SERVICE_REQUEST_TIMEOUT';
    const [s] = run([create, start]);
    expect(s.summary).toBe('10.0.0.5 (CONTOSO\\admin) created service upd (C:\\Windows\\upd.exe), started it and its program ran without answering the service manager (ERROR_SERVICE_REQUEST_TIMEOUT: a command or a program that is not a service) on 10.0.0.1 — remote service execution');
    // refused for real, the start is named with its service
    const refusedStart = step(3, rpc('svcctl', 'StartServiceW', { service_name: 'upd' }, { dst_ip: '10.0.0.2' }));
    refusedStart.status = 'ERROR_FILE_NOT_FOUND';
    const create2 = step(2.9, rpc('svcctl', 'CreateServiceW', { service_name: 'upd', binary_path: 'C:\\Windows\\upd.exe' }, { dst_ip: '10.0.0.2' }));
    create2.status = 'ERROR_SUCCESS';
    expect(run([create2, refusedStart])[0].summary).toMatch(/tried to start it on 10\.0\.0\.2 — remote service execution \[failed: StartServiceW upd ERROR_FILE_NOT_FOUND\]$/);
  });
  it('services whose names cannot be read (packet privacy) are counted, not merged into one', () => {
    const hidden = (t: number, op: string) => {
      const e = rpc('svcctl', op, null, { dst_ip: '10.0.0.1' });
      e.status = 'RESPONSE_ENCRYPTED';
      return step(t, e);
    };
    const [s] = run([hidden(1, 'CreateServiceA'), hidden(2, 'StartServiceA'), hidden(3, 'CreateServiceA'), hidden(4, 'StartServiceA')]);
    expect(s.summary).toBe('10.0.0.5 (CONTOSO\\admin) created 2 services (names not readable) and started them on 10.0.0.1 — remote service execution [result encrypted: CreateServiceA, StartServiceA]');
  });
  it('no response captured: the story says the result is unknown', () => {
    const [s] = run([step(1, rpc('svcctl', 'CreateServiceW', { service_name: 'PSEXESVC', binary_path: '%SystemRoot%\\PSEXESVC.exe' }, { dst_ip: '10.0.0.1', status: null }))]);
    expect(s.summary).toMatch(/ — PsExec \[no response captured: result unknown\]$/);
  });
});

describe('DCOM', () => {
  it('an MMC20.Application activation, the command passed to it and its __<time> output file are one STORY-DCOMEXEC', () => {
    const o = { dst_ip: '10.0.0.1', share: null, path: null, dst_port: 135 };
    const stories = run([
      step(1, rpc('isystemactivator', 'RemoteGetClassObject', { clsid: '49b2791a-b1ae-4c90-9b8e-e860ba07f889', class: 'MMC20.Application' }, o)),
      step(2, rpc('dispatch', 'Invoke', { strings: '"cmd.exe", "/Q /c hostname 1> \\\\127.0.0.1\\ADMIN$\\__1714557600.12 2>&1", "7"' }, { ...o, dst_port: 49724 })),
      step(3, open('ADMIN$', '__1714557600.12', { dst_ip: '10.0.0.1', action: 'read' })),
    ]);
    expect(stories.map((s) => s.rules[0])).toEqual(['STORY-DCOMEXEC']);
    expect(stories[0].summary).toBe('10.0.0.5 (CONTOSO\\admin) activated MMC20.Application, passed it «"cmd.exe", "/Q /c hostname 1> \\\\127.0.0.1\\ADMIN$\\__1714557600.12 2>&1", "7"» and read command output ADMIN$\\__1714557600.12 on 10.0.0.1 — DCOM remote execution (impacket dcomexec, MMC20/ShellWindows)');
    expect(stories[0].attack).toEqual(expect.arrayContaining(['T1021.003', 'T1059']));
    // WMI's own class is not a DCOM execution class
    expect(run([step(5, rpc('isystemactivator', 'RemoteCreateInstance', { class: 'WbemLevel1Login (WMI)' }, { ...o, dst_ip: '10.0.0.9' }))])).toEqual([]);
  });
});

it('every story rule is produced by some test above', () => {
  // kept in step with STORY_RULES: a new story kind needs a test here
  const covered = ['STORY-PSEXEC', 'STORY-IMPACKET-PSEXEC', 'STORY-SMBEXEC', 'STORY-SERVICE-EXEC', 'STORY-ATEXEC', 'STORY-TASK-EXEC', 'STORY-WMIEXEC',
    'STORY-DCSYNC', 'STORY-SECRETSDUMP', 'STORY-PAEXEC', 'STORY-REMCOM', 'STORY-CSEXEC', 'STORY-ADMIN-SHARE-STAGING', 'STORY-RUN-KEY', 'STORY-ZEROLOGON', 'STORY-DCOMEXEC'];
  expect(STORY_RULES.map((r) => r.id).sort()).toEqual(covered.sort());
});

describe('clones by name', () => {
  it.each([
    ['PAExec-4242-WKS01.exe', 'PAExec-4242-WKS01', 'STORY-PAEXEC'],
    ['RemComSvc.exe', 'RemCom_stdin1', 'STORY-REMCOM'],
    ['csexecsvc.exe', 'csexecsvc-WKS01-1-stdin', 'STORY-CSEXEC'],
  ])('%s → %s', (exe, pipe, id) => {
    const o = lab({});
    const stories = run([
      step(1, put('ADMIN$', exe, o)),
      step(2, rpc('svcctl', 'CreateServiceW', { service_name: exe.replace('.exe', ''), binary_path: `%SystemRoot%\\${exe}` }, o)),
      step(3, open('IPC$', pipe, o)),
    ]);
    expect(stories.map((s) => s.rules[0])).toEqual([id]);
    expect(stories[0].refs).toHaveLength(3);
  });
});

describe('wording of outcomes', () => {
  it('a PsExec pipe name keeps a client host name that has dashes (PSEXESVC-VICTIM-PC-2412-stdin)', async () => {
    const { StoryBuilder } = await import('../../src/detect/stories');
    const { applyDetections } = await import('../../src/detect/detections');
    const { applyFlagRules } = await import('../../src/detect/rules');
    const { makeEvent } = await import('../output/fixtures');
    const sb = new StoryBuilder();
    const ev = (frame: number, path: string, status: string) => {
      const e = makeEvent({ frame, path, status, share: '\\\\10.0.0.1\\IPC$', share_type: 'pipe', action: 'create', flags: [], attack: [], severity: 'info', rules: [] });
      applyFlagRules(e);
      applyDetections(e);
      return e;
    };
    sb.add(ev(1, 'PSEXESVC-VICTIM-PC-2412-stdin', 'STATUS_SUCCESS'));
    sb.add(ev(2, 'PSEXESVC-VICTIM-PC-2412-stdout', 'STATUS_SUCCESS'));
    const [s] = sb.finish();
    expect(s.summary).toContain('(client host VICTIM-PC, process 2412)');
    expect(s.summary).toContain('opened pipes');
    expect(s.summary).not.toContain('tried to');
  });
});
