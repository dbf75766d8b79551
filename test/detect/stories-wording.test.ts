/**
 * Found in review of c233187..HEAD: story texts that claim or hide something.
 *  - a refused NetrServerPasswordSet2 reads "tried to tried to set" (did() already adds "tried to");
 *  - a zero-credential authentication accepted at the first try reads "(0 refused, then accepted)";
 *  - one service whose creation is seen twice is told "started them" although one service is named;
 *  - a DCSync done with an administrator's account after every Zerologon attempt was refused is
 *    folded into STORY-ZEROLOGON, which drops the account that replicated (the story's user is the
 *    unauthenticated netlogon step's) and says the replication went with the Zerologon attempt.
 */
import { describe, expect, it } from 'vitest';
import type { SmbEvent } from '../../src/events/event';
import { StoryBuilder } from '../../src/detect/stories';
import { at, detect, rpc } from './events';

let frame = 0;
function step(t: number, e: SmbEvent): SmbEvent {
  e.ts = at(t);
  e.frame = ++frame;
  return detect(e);
}
function run(events: SmbEvent[]): SmbEvent[] {
  const b = new StoryBuilder();
  for (const e of events) b.add(e);
  return b.finish();
}
const dc = { dst_ip: '10.0.0.1', share: null, path: null, dst_port: 49668, user: null, domain: null };
const auth = (t: number, status: string): SmbEvent =>
  step(t, rpc('rpc_netlogon', 'NetrServerAuthenticate3', { account: 'DC01$', client_credential: '0000000000000000' }, { ...dc, status }));

describe('story wording (review of c233187..HEAD)', () => {
  it('a refused NetrServerPasswordSet2 is "tried to set", not "tried to tried to set"', () => {
    const set = rpc('rpc_netlogon', 'NetrServerPasswordSet2', { account: 'DC01$', authenticator_credential: '0000000000000000', new_password: 'all zeros' }, { ...dc, status: 'STATUS_ACCESS_DENIED' });
    const [s] = run([auth(1, 'STATUS_ACCESS_DENIED'), auth(1.1, 'STATUS_SUCCESS'), step(1.2, set)]);
    expect(s.rules[0]).toBe('STORY-ZEROLOGON');
    expect(s.summary).not.toContain('tried to tried to');
    expect(s.summary).toContain("tried to set the machine account's password");
  });

  it('one service told (the same CreateService seen in two copies of a capture) is "started it", not "started them"', () => {
    // the corpus shape: smb2-07__20171220_smb_psexec_add_user.pcap, bug-8629-async-oneside and
    // dcerpc-smb-test-01 hold the same PsExec run; the story reads "created service PSEXESVC (…), started them"
    const o = { dst_ip: '10.0.0.2', status: 'ERROR_SUCCESS' };
    const bin = 'C:\\Windows\\upd.exe';
    const [s] = run([
      step(1, rpc('svcctl', 'CreateServiceW', { service_name: 'upd', binary_path: bin }, { ...o, capture: 'a.pcap' })),
      step(1, rpc('svcctl', 'CreateServiceW', { service_name: 'upd', binary_path: bin }, { ...o, capture: 'b.pcap' })),
      step(2, rpc('svcctl', 'StartServiceW', { service_name: 'upd' }, { ...o, capture: 'a.pcap' })),
    ]);
    expect(s.summary).toContain('created service upd (C:\\Windows\\upd.exe)');
    expect(s.summary).not.toMatch(/started them/);
  });

  it('a DCSync with an account after refused Zerologon attempts keeps its account (lab 14 shape)', () => {
    const drs = step(5, rpc('drsuapi', 'DsGetNCChanges', null, { ...dc, dst_port: 49667, user: 'Administrator', domain: 'LAB', status: 'RESPONSE_ENCRYPTED' }));
    const stories = run([auth(1, 'STATUS_ACCESS_DENIED'), auth(1.1, 'STATUS_ACCESS_DENIED'), auth(1.2, 'STATUS_ACCESS_DENIED'), drs]);
    // the replication must be told with the account that did it, in a story of its own or inside this one
    const telling = stories.filter((s) => s.refs.includes(`lab.pcap#${drs.frame}`));
    expect(telling).toHaveLength(1);
    expect(telling[0].user).toBe('Administrator');
    expect(telling[0].summary).toContain('Administrator');
  });

  it('a zero-credential authentication accepted at once is not "(0 refused, then accepted)"', () => {
    const [s] = run([auth(20, 'STATUS_SUCCESS')]);
    expect(s.rules[0]).toBe('STORY-ZEROLOGON');
    expect(s.summary).not.toContain('0 refused');
  });
});

it('a CreateService refused, then retried with success, is told as created (review of c233187..HEAD)', () => {
  const o = { dst_ip: '10.0.0.7' };
  const first = step(1, rpc('svcctl', 'CreateServiceW', { service_name: 'upd', binary_path: 'C:\\Windows\\upd.exe' }, { ...o, status: 'ERROR_SERVICE_MARKED_FOR_DELETE' }));
  const again = step(2, rpc('svcctl', 'CreateServiceW', { service_name: 'upd', binary_path: 'C:\\Windows\\upd.exe' }, { ...o, status: 'ERROR_SUCCESS' }));
  const [s] = run([first, again]);
  expect(s.summary).toMatch(/^10\.0\.0\.5 \(CONTOSO\\admin\) created service upd \(C:\\Windows\\upd\.exe\) on 10\.0\.0\.7/);
  expect(s.summary).toContain('[failed: CreateServiceW ERROR_SERVICE_MARKED_FOR_DELETE]');
});
