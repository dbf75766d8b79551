/**
 * Found in review (helper, 2026-12-02) of the lateral-movement detections and stories on the real captures of the shared
 * corpus (suricata-verify, zeek). Each test names the capture, the frames and the protocol
 * reference. Skips when the corpus is not beside the project.
 */
import * as fs from 'fs';
import { describe, expect, it } from 'vitest';
import type { SmbEvent } from '../../src/events/event';
import type { EventRecord } from '../../src/events/record';
import { scanCapture } from '../../src/scan/scan-capture';
import { detect, ALL_EVENTS, compiledRules } from '../../src/scan/filter';
import { storiesFrom } from '../../src/detect/stories';
import { batchOf } from '../../src/detect/step';
import { SHARED_CORPUS as BESIDE } from './truth';

/** ../shared/corpus beside the project, or SMBTRAIL_SHARED_CORPUS (a clone elsewhere) */
const SHARED_CORPUS = process.env.SMBTRAIL_SHARED_CORPUS ?? BESIDE;

const SV = `${SHARED_CORPUS}/suricata-verify`;
const present = fs.existsSync(SHARED_CORPUS);

/** events with flags and rule hits, and the stories told from them */
async function analysed(file: string): Promise<{ events: SmbEvent[]; stories: SmbEvent[] }> {
  const recs: EventRecord[] = [];
  await scanCapture(file, file, (r) => { detect(r.ev, ALL_EVENTS); recs.push(r); });
  const steps = recs.filter((r) => r.ev.rules.length > 0);
  const stories = storiesFrom([batchOf(steps)], { config: compiledRules(ALL_EVENTS.rules) }).map((r) => r.ev);
  return { events: recs.map((r) => r.ev), stories };
}

describe.skipIf(!present)('lateral movement on real captures (review)', () => {
  it('StartService answered ERROR_SERVICE_REQUEST_TIMEOUT (1053) is an execution, not an attempt (smb-filename #1089/#1093)', async () => {
    // [MS-SCMR] 3.1.4.19 RStartServiceW: ERROR_SERVICE_REQUEST_TIMEOUT = the process was
    // started but did not call StartServiceCtrlDispatcher in time: a non-service binary (the
    // malware here, cmd.exe for smbexec) has run. The story told "and tried to start it".
    const { stories } = await analysed(`${SV}/smb-filename__input.pcap`);
    const svc = stories.find((s) => s.rules[0] === 'STORY-SERVICE-EXEC');
    expect(svc).toBeDefined();
    expect(svc!.summary).not.toContain('tried to start');
  });

  it('a service running powershell.exe is tagged T1059.001, not only cmd (T1059.003) (bug-5162 #2941)', async () => {
    const { events } = await analysed(`${SV}/bug-5162__input.pcap`);
    const create = events.find((e) => e.frame === 2941 && e.action === 'rpc');
    expect(create?.rpc_args?.binary_path).toBe('powershell.exe -c Reset-ComputerMachinePassword');
    expect(create!.attack).toContain('T1059.001');
  });

  it('a value written under HKLM\\...\\CurrentVersion\\Run is registry-run-key persistence, T1547.001, without a SaveKey next to it (dcerpc-dce-stub-data-04 #16)', async () => {
    const { events, stories } = await analysed(`${SV}/dcerpc+dcerpc-dce-stub-data-04__input.pcap`);
    const set = events.find((e) => e.frame === 16 && e.rpc_operation === 'SetValue');
    expect(set?.rpc_args?.key).toBe('HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run');
    // today: REG-REMOTE-WRITE / T1112 only, no story; the same write beside a SaveKey
    // (captures/12-remote-admin-rpc.pcap) gets T1547.001 through STORY-SECRETSDUMP
    expect([...set!.attack, ...stories.flatMap((s) => s.attack)]).toContain('T1547.001');
  });

  it('an AT job alone (atsvc JobAdd, MS-TSCH 3.2.5.2.1) is T1053.002, not T1053.005 (zeek at_schedule #9)', async () => {
    const { stories } = await analysed(`${SHARED_CORPUS}/zeek/doc__20171220_smb_at_schedule.pcap`);
    expect(stories).toHaveLength(1);
    expect(stories[0].attack).toContain('T1053.002');
    expect(stories[0].attack).not.toContain('T1053.005');
  });

  it('two CreateServiceA calls with encrypted stubs are two services, not one (bug-5133 #10 and #51)', async () => {
    const { stories } = await analysed(`${SV}/bug-5133__input.pcap`);
    expect(stories).toHaveLength(1);
    expect(stories[0].refs).toHaveLength(4);
    // told today as "created service (name not readable) and started it"
    expect(stories[0].summary).toMatch(/\b2\b|×2|\+1 more/);
  });

  it('PsExec pipes are told even when the tree connect response (and so the share) is missing (bug-8629 #62/#72/#82)', async () => {
    const { stories } = await analysed(`${SV}/bug-8629__input.pcap`);
    const ps = stories.find((s) => s.rules[0] === 'STORY-PSEXEC');
    expect(ps).toBeDefined();
    expect(ps!.refs.some((r) => r.endsWith('#62'))).toBe(true);
    // the pipe names carry the client host and process: VICTIM-PC, 2412
    expect(ps!.summary).toContain('VICTIM-PC');
  });

  it('impacket dcomexec (MMC20.Application ExecuteShellCommand "cmd" "/c hostname") is detected (dcerpc-ctxids #14, #516)', async () => {
    // #14 ISystemActivator RemoteGetClassObject of CLSID 49b2791a-b1ae-4c90-9b8e-e860ba07f889
    // (MMC20.Application), #516 IDispatch::Invoke with "cmd" and "/c hostname": T1021.003
    const { events, stories } = await analysed(`${SV}/dcerpc+dcerpc-ctxids__input.pcap`);
    const act = events.find((e) => e.frame === 14);
    expect(act?.rpc_args).toEqual({ clsid: '49b2791a-b1ae-4c90-9b8e-e860ba07f889', class: 'MMC20.Application' });
    expect(act!.rules).toEqual(['DCOM-EXEC-CLASS']);
    // ExecuteShellCommand(Command, Directory, Parameters, WindowState): DISPPARAMS holds them last to first
    const inv = events.find((e) => e.frame === 516);
    expect(inv?.rpc_args).toEqual({ strings: '"cmd", "/c hostname", "7"' });
    expect(inv!.rules).toEqual(['DCOM-SHELL-COMMAND']);
    // the property reads before it (#204, #308) pass no strings
    expect(events.filter((e) => [204, 308].includes(e.frame)).map((e) => e.rpc_args)).toEqual([null, null]);
    expect(stories.filter((s) => s.attack.includes('T1021.003')).map((s) => s.rules[0])).toEqual(['STORY-DCOMEXEC']);
  });

  it('Zerologon (CVE-2020-1472): NetrServerAuthenticate3 refused 20 times, then accepted, then NetrServerPasswordSet2 (zerologon #581)', async () => {
    const { events } = await analysed(`${SV}/dcerpc+zerologon__input.pcap`);
    const set = events.find((e) => e.frame === 581);
    expect(set?.rpc_operation).toBe('NetrServerPasswordSet2');
    expect(set!.rules.length).toBeGreaterThan(0);
    // the arguments as tshark decodes them ([MS-NRPC] 3.5.4.4.2, 3.5.4.4.5): the request's zero
    // authenticator is kept, not the server's return authenticator
    expect(set!.rpc_args).toEqual({ server: '\\\\BAS-AD-01', account: 'BAS-AD-01$', channel_type: 'ServerSecureChannel', computer_name: 'BAS-AD-01',
      authenticator_credential: '0000000000000000', new_password: 'all zeros' });
    const accepted = events.find((e) => e.frame === 573);
    expect(accepted?.rpc_args).toMatchObject({ account: 'BAS-AD-01$', client_credential: '0000000000000000', negotiate_flags: '0x212fffff', account_rid: '1000' });
    expect(events.filter((e) => e.rules.includes('ZEROLOGON'))).toHaveLength(22);
  });
});
