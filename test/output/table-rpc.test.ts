import { describe, expect, it } from 'vitest';
import { eventCells, renderTable } from '../../src/output/table';
import { HOSTILE, makeEvent } from './fixtures';

describe('table rows for rpc calls and stories', () => {
  it('an rpc call shows the pipe, interface.operation and each argument on its own line', () => {
    const e = makeEvent({
      action: 'rpc', share: '\\\\10.0.0.12\\IPC$', path: 'svcctl', rpc_interface: 'svcctl', rpc_operation: 'CreateServiceW',
      rpc_args: { service_name: 'PSEXESVC', binary_path: '%SystemRoot%\\PSEXESVC.exe' }, rules: ['SVC-CREATE'], flags: ['IPC_SHARE'],
    });
    const cells = eventCells(e);
    expect(cells[4]).toBe('\\\\10.0.0.12\\IPC$\\svcctl\nsvcctl.CreateServiceW\nservice_name=PSEXESVC\nbinary_path=%SystemRoot%\\PSEXESVC.exe');
    expect(cells[6]).toBe('high IPC_SHARE SVC-CREATE');
  });

  it('a story shows its account and the frames of its steps (file names only for other captures)', () => {
    const e = makeEvent({
      action: 'story', capture: 'd/a.pcap', summary: '10.0.0.5 copied PSEXESVC.exe — PsExec',
      refs: ['d/a.pcap#16', 'd/a.pcap#49', 'd/b.pcap#3'], rules: ['STORY-PSEXEC'],
    });
    expect(eventCells(e)[4]).toBe('10.0.0.5 copied PSEXESVC.exe — PsExec\nsteps: #16 #49 b.pcap#3');
  });

  it('attacker-controlled arguments and summaries carry no escape sequence to the terminal', () => {
    const e = makeEvent({
      action: 'rpc', rpc_interface: 'svcctl', rpc_operation: 'CreateServiceW',
      rpc_args: { service_name: HOSTILE.sgr, [HOSTILE.osc]: HOSTILE.c1 }, summary: HOSTILE.crlf,
    });
    const text = renderTable([e, makeEvent({ action: 'story', summary: HOSTILE.osc, refs: [HOSTILE.sgr] })], { color: false, columns: 200 });
    expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(text).toContain('service_name=\\x1b[31mred');
  });
});
