/**
 * Rule hits, decoded arguments and the story on captures/12-remote-admin-rpc.pcap: impacket
 * secretsdump.py and reg.py (add of a Run value, save of HKLM\SAM) and scripts/lab/remote_admin_rpc.py
 * (eventlog clear, winreg and initshutdown shutdown requests, a task on the atsvc pipe) against
 * Samba 4.17. Every assertion is about what that capture holds; captures/README.md describes it.
 */
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import type { SmbEvent } from '../../src/events/event';
import type { EventRecord } from '../../src/events/record';
import { scanCapture } from '../../src/scan/scan-capture';
import { detect, ALL_EVENTS, compiledRules } from '../../src/scan/filter';
import { storiesFrom } from '../../src/detect/stories';
import { batchOf } from '../../src/detect/step';
import { applyDetections } from '../../src/detect/detections';
import { decodeArgs } from '../../src/rpc/args';
import { CAPTURES } from '../e2e/truth';
import { rpc } from './events';

const FILE = path.join(CAPTURES, '12-remote-admin-rpc.pcap');

let cached: Promise<{ events: SmbEvent[]; stories: SmbEvent[] }> | null = null;
function run(): Promise<{ events: SmbEvent[]; stories: SmbEvent[] }> {
  return (cached ??= (async () => {
    const recs: EventRecord[] = [];
    await scanCapture(FILE, path.basename(FILE), (r) => { detect(r.ev, ALL_EVENTS); recs.push(r); });
    const steps = recs.filter((r) => r.ev.rules.length > 0);
    const stories = storiesFrom([batchOf(steps)], { config: compiledRules(ALL_EVENTS.rules) }).map((r) => r.ev);
    return { events: recs.map((r) => r.ev), stories };
  })());
}
const hits = (events: SmbEvent[], rule: string): SmbEvent[] => events.filter((e) => e.rules.includes(rule));
const calls = (events: SmbEvent[], iface: string, op: string): SmbEvent[] =>
  events.filter((e) => e.action === 'rpc' && e.rpc_interface === iface && e.rpc_operation === op);

describe('lab capture 12-remote-admin-rpc (impacket remote administration against Samba)', () => {
  it('secretsdump: RemoteRegistry checked over svcctl, the boot-key OpenKey of Lsa\\JD, then a fault on QueryInfoKey', async () => {
    const { events } = await run();
    const svc = calls(events, 'svcctl', 'OpenServiceW');
    // secretsdump.py and both reg.py runs look at RemoteRegistry first (Samba says it runs: no start)
    expect(svc.map((e) => e.rpc_args?.service_name)).toEqual(['RemoteRegistry', 'RemoteRegistry', 'RemoteRegistry']);
    expect(calls(events, 'svcctl', 'StartServiceW')).toEqual([]);
    const jd = calls(events, 'winreg', 'OpenKey').find((e) => /Lsa\\JD$/.test(e.rpc_args?.key ?? ''));
    expect(jd?.rpc_args?.key).toBe('HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\JD');
    expect(jd?.status).toBe('ERROR_SUCCESS');
    expect(jd?.rules).toEqual(['SECRETSDUMP']);
    expect(jd?.severity).toBe('high');
    // Samba cannot unmarshal impacket's QueryInfoKey: secretsdump stops before Skew1/GBG/Data and SaveKey
    const qik = calls(events, 'winreg', 'QueryInfoKey');
    expect(qik).toHaveLength(1);
    expect(qik[0].status).toMatch(/^FAULT nca_s_fault_ndr/);
    expect(calls(events, 'winreg', 'OpenKey').filter((e) => /Lsa\\(Skew1|GBG|Data)$/.test(e.rpc_args?.key ?? ''))).toEqual([]);
  });

  it('reg.py add: SetValue of a Run value, with the key path traced from OpenHKLM + OpenKey (REG-RUN-KEY-WRITE, REG-REMOTE-WRITE)', async () => {
    const { events } = await run();
    const set = calls(events, 'winreg', 'SetValue');
    expect(set).toHaveLength(1);
    expect(set[0].rpc_args).toEqual({
      key: 'HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run',
      value_name: 'LabUpdater', type: 'REG_SZ', data_size: '58', data: 'C:\\Windows\\Temp\\svcupdate.exe',
    });
    expect(set[0].status).toBe('ERROR_SUCCESS');
    // a Run-key value is persistence on its own (it was T1547.001 only beside a SaveKey: found in review)
    expect(set[0].rules).toEqual(['REG-RUN-KEY-WRITE', 'REG-REMOTE-WRITE']);
    expect(set[0].severity).toBe('high');
    expect(set[0].attack).toEqual(['T1547.001', 'T1112']);
  });

  it('reg.py save: OpenKey HKLM\\SAM and SaveKey of HKLM\\SAM, refused with ERROR_BAD_PATHNAME (SECRETSDUMP, REG-SAVE-KEY)', async () => {
    const { events } = await run();
    const open = calls(events, 'winreg', 'OpenKey').find((e) => e.rpc_args?.key === 'HKLM\\SAM');
    expect(open?.rules).toEqual(['SECRETSDUMP']);
    const save = calls(events, 'winreg', 'SaveKey');
    expect(save).toHaveLength(1);
    expect(save[0].rpc_args).toEqual({ key: 'HKLM\\SAM', file: 'C:\\Windows\\Temp\\SAM.save' });
    expect(save[0].status).toBe('ERROR_BAD_PATHNAME');
    expect(save[0].rules).toEqual(['SECRETSDUMP', 'REG-SAVE-KEY']);
    expect(save[0].attack).toEqual(expect.arrayContaining(['T1003.002', 'T1003.004']));
    expect(hits(events, 'SECRETSDUMP').map((e) => e.rpc_operation)).toEqual(['OpenKey', 'OpenKey', 'SaveKey']);
    expect(hits(events, 'REG-SAVE-KEY')).toHaveLength(1);
  });

  it('eventlog: OpenEventLogW("Security") then ClearEventLogW on that pipe, both accepted (EVENTLOG-CLEAR; MS-EVEN returns NTSTATUS)', async () => {
    const { events } = await run();
    const open = calls(events, 'eventlog', 'OpenEventLogW');
    expect(open).toHaveLength(1);
    expect(open[0].rpc_args).toEqual({ module_name: 'Security' });
    expect(open[0].status).toBe('STATUS_SUCCESS');
    const clear = hits(events, 'EVENTLOG-CLEAR');
    expect(clear).toHaveLength(1);
    expect(clear[0]).toMatchObject({ rpc_interface: 'eventlog', rpc_operation: 'ClearEventLogW', status: 'STATUS_SUCCESS', severity: 'high', path: 'eventlog' });
    expect(clear[0].attack).toEqual(['T1070.001']);
    // no backup file was asked for; the log is named after the OpenEventLogW that opened the handle
    expect(clear[0].rpc_args).toEqual({ module_name: 'Security' });
    expect(clear[0].frame).toBeGreaterThan(open[0].frame);
    expect(clear[0].session_id).toBe(open[0].session_id);
    expect(clear[0].tree_id).toBe(open[0].tree_id);
  });

  it('shutdown: winreg InitiateSystemShutdownEx and initshutdown InitEx with their message, both refused (REMOTE-SHUTDOWN)', async () => {
    const { events } = await run();
    const sd = hits(events, 'REMOTE-SHUTDOWN');
    expect(sd.map((e) => `${e.rpc_interface} ${e.rpc_operation} ${e.status}`)).toEqual([
      'winreg InitiateSystemShutdownEx ERROR_ACCESS_DENIED',
      'initshutdown InitEx ERROR_ACCESS_DENIED',
    ]);
    for (const e of sd) {
      expect(e.rpc_args).toEqual({ message: 'smbtrail lab: planned maintenance', timeout: '30', force: 'true', reboot: 'true', reason: '0x80020002' });
      expect(e.severity).toBe('medium');
      expect(e.attack).toEqual(['T1529']);
    }
    expect(sd[1].path).toBe('InitShutdown');
  });

  it('task scheduler: Samba has no atsvc pipe, so no task reached the wire', async () => {
    const { events } = await run();
    const pipe = events.filter((e) => e.action === 'create' && e.path === 'atsvc');
    expect(pipe).toHaveLength(1);
    expect(pipe[0].status).toBe('STATUS_OBJECT_NAME_NOT_FOUND');
    expect(events.filter((e) => e.rpc_interface !== null && /tsch|atsvc|TaskScheduler/i.test(e.rpc_interface))).toEqual([]);
    for (const r of ['TSCH-REGISTER-TASK', 'TSCH-RUN-TASK', 'IMPACKET-ATEXEC', 'ATSVC-JOB-ADD']) expect(hits(events, r)).toEqual([]);
  });

  it('the rule hits of the whole capture, and nothing from the execution rules', async () => {
    const { events } = await run();
    const counts: Record<string, number> = {};
    for (const e of events) for (const r of e.rules) counts[r] = (counts[r] ?? 0) + 1;
    expect(counts).toEqual({
      SECRETSDUMP: 3, 'REG-SAVE-KEY': 1, 'REG-RUN-KEY-WRITE': 1, 'REG-REMOTE-WRITE': 1, 'EVENTLOG-CLEAR': 1, 'REMOTE-SHUTDOWN': 2,
      // secretsdump's samr LookupDomain of an empty name (refused with STATUS_NO_SUCH_DOMAIN)
      'DISCOVERY-ACCOUNTS': 1,
    });
    expect(events.filter((e) => e.action === 'rpc').every((e) => e.user === 'alice' && e.domain === 'LAB')).toBe(true);
  });

  it('one STORY-SECRETSDUMP: the SAM save and the boot-key read, with the Run-key write among its steps', async () => {
    const { events, stories } = await run();
    expect(stories).toHaveLength(1);
    const [s] = stories;
    expect(s).toMatchObject({ action: 'story', severity: 'high', user: 'alice', domain: 'LAB', src_ip: '198.18.10.21', dst_ip: '198.18.10.10' });
    expect(s.rules).toEqual(['STORY-SECRETSDUMP', 'SECRETSDUMP', 'REG-RUN-KEY-WRITE', 'REG-REMOTE-WRITE', 'REG-SAVE-KEY']);
    // the Run-key value is told too (it was only among the refs: found by a new-user trial)
    expect(s.summary).toBe('198.18.10.21 (LAB\\alice) tried to save HKLM\\SAM to C:\\Windows\\Temp\\SAM.save, opened HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\JD, HKLM\\SAM and wrote HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\LabUpdater = C:\\Windows\\Temp\\svcupdate.exe on 198.18.10.10 — remote credential dumping (impacket secretsdump) [failed: SaveKey ERROR_BAD_PATHNAME]');
    // no DRSUAPI call: no DCSync technique; the Run-key value is registry persistence
    expect(s.attack).toEqual(['T1003.002', 'T1003.004', 'T1547.001', 'T1112']);
    const frame = (rule: string, op: string): string => `12-remote-admin-rpc.pcap#${hits(events, rule).find((e) => e.rpc_operation === op)!.frame}`;
    expect(s.refs).toEqual([frame('SECRETSDUMP', 'OpenKey'), frame('REG-REMOTE-WRITE', 'SetValue'),
      `12-remote-admin-rpc.pcap#${calls(events, 'winreg', 'OpenKey').find((e) => e.rpc_args?.key === 'HKLM\\SAM')!.frame}`,
      frame('REG-SAVE-KEY', 'SaveKey')]);
    // the event-log clearing and the shutdown requests are hits of their own, in no story
    expect(s.refs).not.toContain(frame('EVENTLOG-CLEAR', 'ClearEventLogW'));
  });
});

describe('fixes made for this capture', () => {
  it('SECRETSDUMP matches OpenKey of HKLM\\SAM / HKLM\\SECURITY as the handle tracing names them, not other keys', () => {
    const fired = (key: string): boolean => applyDetections(rpc('winreg', 'OpenKey', { key })).rules.includes('SECRETSDUMP');
    expect(fired('HKLM\\SAM')).toBe(true);
    expect(fired('HKLM\\SECURITY')).toBe(true);
    expect(fired('SAM')).toBe(true);
    expect(fired('HKLM\\SOFTWARE\\SAM')).toBe(false);
    expect(fired('HKLM\\SAMSUNG')).toBe(false);
    expect(fired('HKCU\\SAM\\x')).toBe(false);
  });

  it('initshutdown Init/InitEx/Abort are decoded (a refused InitEx is no longer ERROR_SUCCESS)', () => {
    // BaseInitiateShutdownEx: null server, [unique] message "hi", timeout 5, force 1, reboot 0, reason 0x80020002
    const msg = Buffer.from('hi\0', 'utf16le');
    const req = Buffer.concat([
      Buffer.from([0, 0, 0, 0]), // ServerName: null
      Buffer.from([0, 0, 2, 0]), // lpMessage: referent
      Buffer.from([6, 0, 6, 0]), Buffer.from([4, 0, 2, 0]), // Length, MaximumLength, buffer referent
      Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]), msg, Buffer.from([0, 0]), // conformant varying, padded to 4
      Buffer.from([5, 0, 0, 0, 1, 0, 0, 0]), // timeout, force, reboot, (pad)
      Buffer.from([2, 0, 2, 0x80]), // reason
    ]);
    const resp = Buffer.from([5, 0, 0, 0]);
    expect(decodeArgs('initshutdown', 2, req, resp, true)).toEqual({ message: 'hi', timeout: '5', force: 'true', reboot: 'false', reason: '0x80020002', error: 'ERROR_ACCESS_DENIED' });
    expect(decodeArgs('initshutdown', 1, Buffer.from([0, 0, 0, 0]), Buffer.from([0x5c, 0x04, 0, 0]), true)).toEqual({ error: 'ERROR_NO_SHUTDOWN_IN_PROGRESS' });
  });
});
