/**
 * Detections and stories on real traffic: the lab captures (Samba smbd, smbclient, impacket)
 * and, when present, the shared corpus (Windows PsExec, at jobs, mimikatz drops, DRSUAPI).
 */
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import type { SmbEvent } from '../../src/events/event';
import type { EventRecord } from '../../src/events/record';
import { scanCapture } from '../../src/scan/scan-capture';
import { ALL_EVENTS, EventFilter, compiledRules } from '../../src/scan/filter';
import { detectWithStep } from '../../src/scan/jobs';
import { storiesFrom } from '../../src/detect/stories';
import { batchOf } from '../../src/detect/step';
import { parseRulesConfig } from '../../src/detect/config';
import { CAPTURES, SHARED_CORPUS } from '../e2e/truth';

async function run(file: string, filter: EventFilter = ALL_EVENTS): Promise<{ events: SmbEvent[]; stories: SmbEvent[] }> {
  const recs: EventRecord[] = [];
  const steps: EventRecord[] = [];
  await scanCapture(file, path.basename(file), (r) => {
    const step = detectWithStep(r, filter);
    recs.push(r);
    if (step.ev.rules.length > 0) steps.push(step);
  });
  const stories = storiesFrom([batchOf(steps)], { config: compiledRules(filter.rules) }).map((r) => r.ev);
  return { events: recs.map((r) => r.ev), stories };
}
const lab = (name: string): string => path.join(CAPTURES, name);
const hits = (events: SmbEvent[], rule: string): SmbEvent[] => events.filter((e) => e.rules.includes(rule));

describe('stories on the lab captures', () => {
  it('Samba AD DC (14): 30 zero-credential NetrServerAuthenticate3 refused, then a DCSync as Administrator: two stories', async () => {
    const { events, stories } = await run(lab('14-samba-dc-zerologon-dcsync.pcap'));
    const zl = hits(events, 'ZEROLOGON');
    expect(zl).toHaveLength(30);
    for (const e of zl) {
      expect(e).toMatchObject({ rpc_interface: 'rpc_netlogon', rpc_operation: 'NetrServerAuthenticate3', status: 'STATUS_ACCESS_DENIED' });
      expect(e.rpc_args).toMatchObject({ account: 'DC01$', client_credential: '0000000000000000', negotiate_flags: '0x212fffff' });
    }
    const drs = hits(events, 'DRS-REPLICATION');
    expect(drs.map((e) => [e.rpc_operation, e.user])).toEqual([['DsGetNCChanges', 'Administrator']]);
    // every attempt refused: the replication was not made with the machine account, so it keeps
    // its own story and its account (found in review: it was folded in, its account lost)
    expect(stories.map((s) => s.rules[0])).toEqual(['STORY-ZEROLOGON', 'STORY-DCSYNC']);
    expect(stories[0].summary).toBe('198.18.10.21 sent 30 netlogon authentication(s) with a zero credential for DC01$ (all refused) on 198.18.10.10 — Zerologon (CVE-2020-1472)');
    expect(stories[0].attack).toEqual(['T1210']);
    expect(stories[0].refs).toHaveLength(30);
    expect(stories[1]).toMatchObject({ user: 'Administrator', domain: 'LAB', attack: ['T1003.006'] });
  });

  it('PsExec footprint: one high story naming PSEXESVC, its binary path and pipes, with the frames of each step', async () => {
    const { stories } = await run(lab('07-psexec-footprint.pcap'));
    expect(stories).toHaveLength(1);
    const [s] = stories;
    expect(s).toMatchObject({ action: 'story', severity: 'high', user: 'alice', domain: 'LAB', src_ip: '198.18.10.21', dst_ip: '198.18.10.10' });
    expect(s.rules[0]).toBe('STORY-PSEXEC');
    expect(s.summary).toContain('PSEXESVC.exe');
    // Samba faults the CreateServiceW and has no such pipes: the story says they were tried
    expect(s.summary).toContain('tried to create service PSEXESVC (%SystemRoot%\\PSEXESVC.exe), tried to open pipes PSEXESVC');
    expect(s.summary).toContain('[failed: CreateServiceW FAULT nca_s_op_rng_error]');
    expect(s.summary).toMatch(/PsExec/);
    expect(s.attack).toEqual(expect.arrayContaining(['T1021.002', 'T1570', 'T1569.002']));
    // the copy (CREATE frame 16), the service creation (49) and the pipes are all referenced
    expect(s.refs).toEqual(expect.arrayContaining(['07-psexec-footprint.pcap#16', '07-psexec-footprint.pcap#49', '07-psexec-footprint.pcap#67']));
  });

  it('impacket psexec: one story naming the uploaded random .exe and the service that runs it', async () => {
    const { events, stories } = await run(lab('06-impacket-psexec.pcap'));
    const create = events.find((e) => e.action === 'rpc' && e.rpc_operation === 'CreateServiceW');
    expect(create?.rpc_args?.binary_path).toMatch(/^%systemroot%\\[A-Za-z]{8}\.exe$/);
    const exe = create!.rpc_args!.binary_path.split('\\').pop()!;
    const service = create!.rpc_args!.service_name;
    expect(stories).toHaveLength(1);
    expect(stories[0].rules[0]).toBe('STORY-IMPACKET-PSEXEC');
    expect(stories[0].severity).toBe('high');
    expect(stories[0].summary).toContain(`copied ${exe} to \\\\198.18.10.10\\ADMIN$`);
    expect(stories[0].summary).toContain(`tried to create service ${service}`);
  });

  it('smbexec: one story with the command line of the service', async () => {
    const { stories } = await run(lab('08-smbexec-services.pcap'));
    const smbexec = stories.filter((s) => s.rules[0] === 'STORY-SMBEXEC');
    expect(smbexec).toHaveLength(1);
    expect(smbexec[0].severity).toBe('high');
    expect(smbexec[0].summary).toContain('%COMSPEC% /Q /c echo cd');
    expect(smbexec[0].summary).toContain('\\\\127.0.0.1\\C$\\__output');
  });

  it('PsExec clones on one client and server within a minute: one story per tool (PAExec, RemCom, CSExec)', async () => {
    const { events, stories } = await run(lab('13-psexec-clones.pcap'));
    expect(stories.map((x) => x.rules[0])).toEqual(['STORY-PAEXEC', 'STORY-REMCOM', 'STORY-CSEXEC']);
    expect(stories.every((x) => x.severity === 'high')).toBe(true);
    expect(stories[0].summary).toMatch(/copied PAExec-5151-WKS01\.exe to .*ADMIN\$, tried to create service PAExec-5151-WKS01 .* — PAExec/);
    expect(stories[1].summary).toContain('RemCom_communicaton');
    expect(stories[2].summary).toContain('tried to create service csexecsvc (%SystemRoot%\\csexecsvc.exe)');
    for (const [rule, n] of [['PSEXEC-PAEXEC', 7], ['PSEXEC-REMCOM', 10], ['PSEXEC-CSEXEC', 7]] as const) {
      expect(hits(events, rule), rule).toHaveLength(n);
    }
    // no step of one tool is told in another tool's story
    expect(new Set(stories.flatMap((x) => x.refs)).size).toBe(stories.reduce((n, x) => n + x.refs.length, 0));
  });

  it('the benign baseline yields no story and no rule hit above low', async () => {
    const { events, stories } = await run(lab('11-benign-baseline.pcap'));
    expect(stories).toEqual([]);
    expect(events.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.severity === 'high' || e.severity === 'medium')).toEqual([]);
  });

  it('discovery: srvsvc/wkssvc/samr/lsarpc calls are low-severity discovery hits, and together a burst', async () => {
    const { events, stories } = await run(lab('09-discovery.pcap'));
    expect(hits(events, 'DISCOVERY-SHARES').length).toBeGreaterThan(0);
    expect(events.filter((e) => e.rules.some((r) => r.startsWith('DISCOVERY-'))).every((e) => e.severity === 'low')).toBe(true);
    expect(stories.map((s) => s.rules[0])).toContain('DISCOVERY-BURST');
    // lsarpc and samr return NTSTATUS: 0x00000107 is STATUS_SOME_NOT_MAPPED (tshark names it so), not a Win32 error
    const rpcs = events.filter((e) => e.rpc_interface === 'lsarpc' || e.rpc_interface === 'samr');
    expect(rpcs.find((e) => e.frame === 139)).toMatchObject({ rpc_operation: 'lsa_LookupSids', status: 'STATUS_SOME_NOT_MAPPED' });
    expect(rpcs.filter((e) => e.status === 'ERROR_SUCCESS')).toEqual([]);
  });

  it('an allow-list by client subnet and by server host name silences the rules and the story', async () => {
    const cfg = parseRulesConfig([
      'allow:',
      '  - client: 198.18.10.0/24',
      '    rules: [SVC-CREATE, PSEXEC-PSEXESVC, SMB-ADMIN-SHARE-WRITE, STORY-PSEXEC]',
    ].join('\n'), 'test.yaml');
    const { events, stories } = await run(lab('07-psexec-footprint.pcap'), { ...ALL_EVENTS, rules: cfg });
    expect(hits(events, 'SVC-CREATE')).toEqual([]);
    expect(stories).toEqual([]);
    // the share names the server by address here; a host-name entry must not match it
    const byName = parseRulesConfig('allow:\n  - server: FS01\n', 'test.yaml');
    const r2 = await run(lab('07-psexec-footprint.pcap'), { ...ALL_EVENTS, rules: byName });
    expect(r2.stories).toHaveLength(1);
    const byAddr = parseRulesConfig('allow:\n  - server: 198.18.10.10\n', 'test.yaml');
    const r3 = await run(lab('07-psexec-footprint.pcap'), { ...ALL_EVENTS, rules: byAddr });
    expect(r3.stories).toEqual([]);
  });

  it('per-rule switches: a disabled rule does not fire, a changed severity is used', async () => {
    const cfg = parseRulesConfig('rules:\n  SVC-CREATE: { enabled: false }\n  DISCOVERY-SHARES: { severity: medium }\n', 'test.yaml');
    const { events } = await run(lab('06-impacket-psexec.pcap'), { ...ALL_EVENTS, rules: cfg });
    expect(hits(events, 'SVC-CREATE')).toEqual([]);
    expect(hits(events, 'DISCOVERY-SHARES').every((e) => e.severity === 'medium')).toBe(true);
    // the switch silences the generic step, not the chain it belongs to
    const { stories } = await run(lab('06-impacket-psexec.pcap'), { ...ALL_EVENTS, rules: cfg });
    expect(stories.map((x) => x.rules[0])).toEqual(['STORY-IMPACKET-PSEXEC']);
  });
});

const corpus = (rel: string): string => path.join(SHARED_CORPUS, rel);
describe.skipIf(!fs.existsSync(SHARED_CORPUS))('rule hits on the shared corpus', () => {
  it('suricata-verify smb2-07 (Windows PsExec, Kerberos): PsExec service and pipes, one PsExec story', async () => {
    const { events, stories } = await run(corpus('suricata-verify/smb2-07__20171220_smb_psexec_add_user.pcap'));
    expect(hits(events, 'SVC-CREATE').length).toBeGreaterThan(0);
    expect(hits(events, 'PSEXEC-PSEXESVC').length).toBeGreaterThan(0);
    expect(stories.map((s) => s.rules[0])).toContain('STORY-PSEXEC');
  });

  it('at-job captures: atsvc JobAdd with its command', async () => {
    for (const f of ['suricata-verify/smb2-04__20171220_smb_at_schedule.pcap', 'zeek/doc__20171220_smb_at_schedule.pcap']) {
      const { events } = await run(corpus(f));
      const jobs = hits(events, 'ATSVC-JOB-ADD');
      expect(jobs.length, f).toBeGreaterThan(0);
      expect(jobs[0].rpc_args?.command, f).toBeTruthy();
    }
  });

  it('DRSUAPI DsGetNCChanges over TCP is a DCSync hit and story', async () => {
    const withDrs = fs.readdirSync(corpus('zeek')).map((f) => `zeek/${f}`)
      .concat(fs.readdirSync(corpus('suricata-verify')).map((f) => `suricata-verify/${f}`))
      .filter((f) => f.endsWith('.truth.json'))
      .filter((f) => fs.readFileSync(corpus(f), 'utf8').includes('DsGetNCChanges'));
    expect(withDrs.length).toBeGreaterThan(0);
    for (const t of withDrs) {
      const { events, stories } = await run(corpus(t.replace(/\.truth\.json$/, '')));
      expect(hits(events, 'DRS-REPLICATION').length, t).toBeGreaterThan(0);
      // told as DCSync, or inside the Zerologon story whose machine account it used (bug-5162)
      const told = stories.filter((s) => s.rules[0] === 'STORY-DCSYNC' || (s.rules[0] === 'STORY-ZEROLOGON' && s.attack.includes('T1003.006')));
      expect(told.length, t).toBeGreaterThan(0);
    }
  });

  it('print driver install (PrintNightmare-style mimilib.dll), remote registry Run-key write, net user discovery burst', async () => {
    const drv = await run(corpus('suricata-verify/smb-dce_iface__input.pcap'));
    const inst = hits(drv.events, 'PRINT-MONITOR-INSTALL');
    expect(inst).toHaveLength(1);
    expect(JSON.stringify(inst[0].rpc_args)).toMatch(/mimilib\.dll/i);
    // its DLL is on another host (\\ws02.cylera.lab\security\mimilib.dll): the PrintNightmare shape
    expect(hits(drv.events, 'PRINT-DRIVER-REMOTE-DLL').map((e) => e.frame)).toEqual([inst[0].frame]);
    expect(inst[0].attack).toEqual(expect.arrayContaining(['T1547.010', 'T1210', 'T1068']));
    const reg = await run(corpus('suricata-verify/dcerpc+dcerpc-dce-stub-data-04__input.pcap'));
    expect(hits(reg.events, 'REG-REMOTE-WRITE')).toHaveLength(1);
    // under ...\CurrentVersion\Run: persistence, a story of its own without any dumping around it
    expect(hits(reg.events, 'REG-RUN-KEY-WRITE')).toHaveLength(1);
    expect(reg.stories.map((s) => s.rules[0])).toEqual(['STORY-RUN-KEY']);
    expect(reg.stories[0].summary).toContain('CurrentVersion\\Run\\Osa32 = NTOSA32.EXE');
    const net = await run(corpus('suricata-verify/smb2-06__20171220_smb_net_user.pcap'));
    expect(hits(net.events, 'DISCOVERY-ACCOUNTS').length).toBeGreaterThan(0);
    expect(net.stories.map((x) => x.rules[0])).toEqual(['DISCOVERY-BURST']);
    // a Windows 10 client listing shares once is discovery, not a burst and not a story
    const w10 = await run(corpus('jasonlue-pcap/smb-on-windows-10.pcapng'));
    expect(w10.stories).toEqual([]);
    expect(w10.events.filter((e) => e.severity === 'high' || e.severity === 'medium')).toEqual([]);
  });
});

describe.skipIf(!fs.existsSync(SHARED_CORPUS))('DCE/RPC on TCP: the user comes from the NTLMSSP of the BIND/AUTH3', () => {
  it('suricata-verify dcerpc-auth3-5133: the service calls name 3B\\Backdoor', async () => {
    const { events, stories } = await run(corpus('suricata-verify/dcerpc+dcerpc-auth3-5133__input.pcap'));
    const svc = hits(events, 'SVC-CREATE');
    expect(svc.length).toBeGreaterThan(0);
    expect(svc.every((e) => e.user === 'Backdoor' && e.domain === '3B' && e.share === null)).toBe(true);
    expect(stories[0].summary).toContain('Backdoor');
  });
});

describe('no false alarm on ordinary lab traffic', () => {
  // sessions, signed and encrypted SMB3, SMB1, 2,000 small files, a department share: nothing
  // there is lateral movement, so no rule above low may fire and no story may form
  for (const name of ['01-smb21-session.pcap', '02-smb311-signed.pcapng', '03-smb311-encrypted.pcap', '04-smb1-nt1.pcap', '10-many-small-files.pcap', '11-benign-baseline.pcap']) {
    it(name, async () => {
      const { events, stories } = await run(lab(name));
      expect(events.length).toBeGreaterThan(0);
      expect(events.flatMap((e) => e.rules).filter((r) => !r.startsWith('DISCOVERY-'))).toEqual([]);
      expect(stories.filter((s) => s.rules[0] !== 'DISCOVERY-BURST')).toEqual([]);
    });
  }
});
