/**
 * Flag rules: each rule of FLAG_RULES on events that should and should not match, the severity
 * they add up to, ATT&CK ids without duplicates; then the rules on events made by the pipeline.
 */
import { describe, expect, it } from 'vitest';
import { parseCaptureBuffer } from '../../src/capture/reader';
import type { SmbEvent } from '../../src/events/event';
import { createCapturePipeline } from '../../src/scan/scan-capture';
import { applyFlagRules, FLAG_RULES, FlagRule, isExecutableName, shareHost, shareName } from '../../src/detect/rules';
import { ACCESS, CREATE_OPTIONS, DISPOSITION, fileId, SHARE_TYPE } from '../helpers/build';
import { CaptureBuilder, scanBuilder, Smb2Client } from '../helpers/conversation';

function ev(o: Partial<SmbEvent> = {}): SmbEvent {
  return {
    ts: '2024-01-01T00:00:00.000000Z', capture: 't.pcap', frame: 1, response_frame: 2,
    src_ip: '10.0.0.5', src_port: 49700, dst_ip: '10.0.0.12', dst_port: 445, smb_dialect: '3.1.1',
    session_id: '0x0000000000000001', user: 'u', domain: 'd', workstation: 'w', action: 'create',
    share: '\\\\10.0.0.12\\data', share_type: 'disk', tree_id: '0x00000001', path: 'x.txt', new_path: null,
    status: 'STATUS_SUCCESS', disposition: 'FILE_OPEN', access: ['READ_DATA'], bytes: null,
    flags: [], attack: [], severity: 'info', rpc_interface: null, rpc_operation: null, rpc_args: null,
    rules: [], summary: null, refs: [], ...o,
  };
}
const flag = (o: Partial<SmbEvent>) => {
  const e = applyFlagRules(ev(o));
  return { flags: e.flags, attack: e.attack, severity: e.severity };
};

describe('rule table', () => {
  it('has the documented flags in order, with their ATT&CK ids and severities', () => {
    expect(FLAG_RULES.map((r) => [r.flag, r.attack, r.severity])).toEqual([
      ['ADMIN_SHARE', ['T1021.002'], 'medium'],
      ['DRIVE_SHARE', ['T1021.002'], 'medium'],
      ['IPC_SHARE', [], 'info'],
      ['PSEXESVC', ['T1569.002'], 'high'],
      ['EXECUTABLE_WRITE', ['T1570'], 'high'],
      ['LOOPBACK_TARGET', [], 'low'],
      ['ENCRYPTED', [], 'info'],
    ]);
  });

  it('a plain event on a plain share is unflagged', () => {
    expect(flag({})).toEqual({ flags: [], attack: [], severity: 'info' });
  });
});

describe('ADMIN_SHARE / DRIVE_SHARE / IPC_SHARE', () => {
  it('ADMIN$ (any case) is ADMIN_SHARE, T1021.002, medium', () => {
    expect(flag({ action: 'tree_connect', share: '\\\\10.0.0.12\\ADMIN$', path: null })).toEqual({ flags: ['ADMIN_SHARE'], attack: ['T1021.002'], severity: 'medium' });
    expect(flag({ share: '\\\\srv\\admin$' }).flags).toEqual(['ADMIN_SHARE']);
  });

  it('not ADMIN$: ADMIN without $, ADMIN$ as a folder, no share', () => {
    expect(flag({ share: '\\\\srv\\ADMIN' }).flags).toEqual([]);
    expect(flag({ share: '\\\\srv\\data', path: 'ADMIN$\\x.txt' }).flags).toEqual([]);
    expect(flag({ share: null }).flags).toEqual([]);
  });

  it('C$, d$, Z$ are DRIVE_SHARE, T1021.002, medium', () => {
    for (const s of ['C$', 'd$', 'Z$']) {
      expect(flag({ share: `\\\\srv\\${s}` }), s).toEqual({ flags: ['DRIVE_SHARE'], attack: ['T1021.002'], severity: 'medium' });
    }
  });

  it('not drive shares: C, CD$, 1$, IPC$, print$', () => {
    for (const s of ['C', 'CD$', '1$', 'IPC$', 'print$']) expect(flag({ share: `\\\\srv\\${s}` }).flags, s).not.toContain('DRIVE_SHARE');
  });

  it('IPC$ alone is info, with no ATT&CK id', () => {
    expect(flag({ action: 'tree_connect', share: '\\\\10.0.0.12\\IPC$', share_type: 'pipe', path: null })).toEqual({ flags: ['IPC_SHARE'], attack: [], severity: 'info' });
    expect(flag({ share: '\\\\srv\\ipc$', path: 'srvsvc' })).toEqual({ flags: ['IPC_SHARE'], attack: [], severity: 'info' });
  });
});

describe('PSEXESVC', () => {
  it('the PsExec pipes on IPC$ are high, T1569.002', () => {
    expect(flag({ share: '\\\\srv\\IPC$', path: 'PSEXESVC-WS01-4242-stdin', access: ['GENERIC_READ', 'GENERIC_WRITE'] }))
      .toEqual({ flags: ['IPC_SHARE', 'PSEXESVC'], attack: ['T1569.002'], severity: 'high' });
    expect(flag({ share: '\\\\srv\\IPC$', path: 'psexesvc' }).flags).toContain('PSEXESVC');
  });

  it('the service binary copied to ADMIN$: ADMIN_SHARE + PSEXESVC + EXECUTABLE_WRITE', () => {
    expect(flag({ share: '\\\\srv\\ADMIN$', path: 'PSEXESVC.exe', disposition: 'FILE_OVERWRITE_IF', access: ['WRITE_DATA'] })).toEqual({
      flags: ['ADMIN_SHARE', 'PSEXESVC', 'EXECUTABLE_WRITE'], attack: ['T1021.002', 'T1569.002', 'T1570'], severity: 'high',
    });
  });

  it('a rename to PSEXESVC.exe matches by new_path', () => {
    expect(flag({ action: 'rename', path: 'tmp123', new_path: 'PSEXESVC.EXE' }).flags).toEqual(['PSEXESVC']);
  });

  it('not PsExec: psexec.exe, PSEXESV, svcctl', () => {
    for (const p of ['psexec.exe', 'PSEXESV', 'svcctl']) expect(flag({ share: '\\\\srv\\IPC$', path: p }).flags, p).toEqual(['IPC_SHARE']);
  });
});

describe('EXECUTABLE_WRITE', () => {
  const admin = '\\\\10.0.0.12\\ADMIN$';

  it('create with write access of an .exe in ADMIN$ is high, T1570 after T1021.002', () => {
    expect(flag({ share: admin, path: 'Temp\\evil.exe', disposition: 'FILE_OPEN_IF', access: ['WRITE_DATA', 'SYNCHRONIZE'] }))
      .toEqual({ flags: ['ADMIN_SHARE', 'EXECUTABLE_WRITE'], attack: ['T1021.002', 'T1570'], severity: 'high' });
  });

  it('a read-only open of the same file is not a write', () => {
    expect(flag({ share: admin, path: 'Temp\\evil.exe', disposition: 'FILE_OPEN', access: ['READ_DATA', 'READ_ATTRIBUTES'] }))
      .toEqual({ flags: ['ADMIN_SHARE'], attack: ['T1021.002'], severity: 'medium' });
  });

  it('creating dispositions count even without write rights; GENERIC_ALL / MAXIMUM_ALLOWED count as write', () => {
    for (const d of ['FILE_CREATE', 'FILE_OVERWRITE', 'FILE_OVERWRITE_IF', 'FILE_SUPERSEDE']) {
      expect(flag({ share: admin, path: 'a.dll', disposition: d, access: ['READ_DATA'] }).flags, d).toContain('EXECUTABLE_WRITE');
    }
    for (const a of ['GENERIC_ALL', 'MAXIMUM_ALLOWED', 'GENERIC_WRITE', 'APPEND_DATA']) {
      expect(flag({ share: admin, path: 'a.ps1', access: [a] }).flags, a).toContain('EXECUTABLE_WRITE');
    }
    expect(flag({ share: admin, path: 'a.ps1', access: ['WRITE_ATTRIBUTES', 'DELETE'] }).flags).not.toContain('EXECUTABLE_WRITE');
  });

  it('write events of scripts and binaries in a drive share', () => {
    for (const p of ['Users\\Public\\run.BAT', 'x.vbs', 'y.HTA', 'z.scr', 'w.sys']) {
      expect(flag({ action: 'write', share: '\\\\srv\\C$', path: p, bytes: 10 }).flags, p).toEqual(['DRIVE_SHARE', 'EXECUTABLE_WRITE']);
    }
  });

  it('a rename to .exe in ADMIN$', () => {
    expect(flag({ action: 'rename', share: admin, path: 'Temp\\payload.tmp', new_path: 'Temp\\payload.exe' }))
      .toEqual({ flags: ['ADMIN_SHARE', 'EXECUTABLE_WRITE'], attack: ['T1021.002', 'T1570'], severity: 'high' });
  });

  it('not: a document, a double extension ending in .txt, a dot-file, an .exe folder, a delete, a read', () => {
    for (const p of ['report.docx', 'evil.exe.txt', '.exe', 'tools.exe\\readme']) {
      expect(flag({ share: admin, path: p, access: ['WRITE_DATA'] }).flags, p).toEqual(['ADMIN_SHARE']);
    }
    expect(flag({ action: 'delete', share: admin, path: 'evil.exe' }).flags).toEqual(['ADMIN_SHARE']);
    expect(flag({ action: 'read', share: admin, path: 'evil.exe', bytes: 5 }).flags).toEqual(['ADMIN_SHARE']);
  });

  it('not on ordinary shares or IPC$', () => {
    expect(flag({ share: '\\\\srv\\software', path: 'setup.exe', access: ['WRITE_DATA'] }).flags).toEqual([]);
    expect(flag({ share: '\\\\srv\\IPC$', path: 'x.exe', access: ['WRITE_DATA'] }).flags).toEqual(['IPC_SHARE']);
  });

  // BUG? (src/detect/rules.ts EXECUTABLE_WRITE): a rename *away* from an executable name
  // (evil.exe → evil.txt) matches because the rule tests `path` for every action; the issue
  // defines the flag as an executable "created/written/renamed into" a share. For renames the
  // test should look at new_path only.
  it('a rename from .exe to .txt is not an executable write', () => {
    expect(flag({ action: 'rename', share: admin, path: 'evil.exe', new_path: 'evil.txt' }).flags).toEqual(['ADMIN_SHARE']);
  });

  it('isExecutableName reads the last path component, case-insensitively', () => {
    expect(['a.EXE', 'dir\\b.Ps1', 'c.lnk', 'd.jse'].map(isExecutableName)).toEqual([true, true, true, true]);
    expect(['a.exe\\b', 'noext', '', '.bat'].map(isExecutableName)).toEqual([false, false, false, false]);
    expect(isExecutableName(null)).toBe(false);
  });
});

describe('LOOPBACK_TARGET', () => {
  it('\\\\127.0.0.1\\C$ (Sigma "Writing Local Admin Share")', () => {
    expect(flag({ share: '\\\\127.0.0.1\\C$' })).toEqual({ flags: ['DRIVE_SHARE', 'LOOPBACK_TARGET'], attack: ['T1021.002'], severity: 'medium' });
  });

  it('\\\\localhost\\ADMIN$ and other loopback spellings', () => {
    expect(flag({ share: '\\\\localhost\\ADMIN$' }).flags).toEqual(['ADMIN_SHARE', 'LOOPBACK_TARGET']);
    for (const h of ['LOCALHOST', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1']) {
      expect(flag({ share: `\\\\${h}\\data` }), h).toEqual({ flags: ['LOOPBACK_TARGET'], attack: [], severity: 'low' });
    }
  });

  it('not loopback: other hosts, look-alikes', () => {
    for (const h of ['10.0.0.12', 'localhost.evil.com', '127.0.0.1.nip.io', '128.0.0.1', 'mylocalhost', '1::1']) {
      expect(flag({ share: `\\\\${h}\\C$` }).flags, h).toEqual(['DRIVE_SHARE']);
    }
  });

  it('shareHost/shareName split a UNC path', () => {
    expect([shareHost('\\\\LocalHost\\C$'), shareName('\\\\LocalHost\\c$')]).toEqual(['localhost', 'C$']);
    expect([shareHost(null), shareName(null), shareHost('nounc'), shareName('IPC$')]).toEqual(['', '', '', 'IPC$']);
  });
});

describe('ENCRYPTED, severity, ATT&CK ids', () => {
  it('an encrypted event is flagged ENCRYPTED, info', () => {
    expect(flag({ action: 'encrypted', share: null, path: null })).toEqual({ flags: ['ENCRYPTED'], attack: [], severity: 'info' });
  });

  it('severity is the highest of the matching rules', () => {
    expect(flag({ share: '\\\\localhost\\data' }).severity).toBe('low');
    expect(flag({ share: '\\\\localhost\\ADMIN$' }).severity).toBe('medium');
    expect(flag({ share: '\\\\localhost\\ADMIN$', path: 'PSEXESVC.exe' }).severity).toBe('high');
    expect(flag({ share: '\\\\srv\\IPC$', path: 'PSEXESVC-x-stdout' }).severity).toBe('high');
  });

  it('a severity already higher than the rules is kept', () => {
    expect(applyFlagRules(ev({ severity: 'high', share: '\\\\srv\\IPC$' })).severity).toBe('high');
  });

  it('ATT&CK ids are not repeated when several rules share one', () => {
    const rules: FlagRule[] = [
      { flag: 'A', title: 'a', attack: ['T1021.002'], severity: 'low', test: () => true },
      { flag: 'B', title: 'b', attack: ['T1570', 'T1021.002'], severity: 'medium', test: () => true },
      { flag: 'C', title: 'c', attack: ['T1570'], severity: 'info', test: () => false },
    ];
    const e = applyFlagRules(ev({ attack: ['T1570'] }), rules);
    expect(e).toMatchObject({ flags: ['A', 'B'], attack: ['T1570', 'T1021.002'], severity: 'medium' });
  });
});

describe('rules on events made by the pipeline', () => {
  function scan(build: (cl: Smb2Client) => void) {
    const cap = new CaptureBuilder();
    const cl = new Smb2Client(cap.conversation().handshake(), 0x11n);
    cl.sessionSetup({ user: 'admin', domain: 'CORP', workstation: 'ATTACKER' });
    build(cl);
    return scanBuilder(cap).events.map((e) => applyFlagRules(e));
  }

  it('PsExec: binary to ADMIN$ and pipe on IPC$', () => {
    const events = scan((cl) => {
      cl.treeConnect('\\\\10.0.0.12\\ADMIN$', 1);
      cl.create(1, { name: 'PSEXESVC.exe', access: ACCESS.GENERIC_WRITE | ACCESS.GENERIC_READ, disposition: DISPOSITION.OVERWRITE_IF }, fileId(1));
      cl.write(1, fileId(1), Buffer.alloc(300));
      cl.close(1, fileId(1));
      cl.treeConnect('\\\\10.0.0.12\\IPC$', 2, SHARE_TYPE.PIPE);
      cl.create(2, { name: 'PSEXESVC-ATTACKER-1234-stdin', access: ACCESS.GENERIC_WRITE, disposition: DISPOSITION.OPEN }, fileId(2));
    });
    expect(events.map((e) => [e.action, e.path, e.flags.join('|'), e.severity])).toEqual([
      ['session_setup', null, '', 'info'],
      ['tree_connect', null, 'ADMIN_SHARE', 'medium'],
      ['create', 'PSEXESVC.exe', 'ADMIN_SHARE|PSEXESVC|EXECUTABLE_WRITE', 'high'],
      ['write', 'PSEXESVC.exe', 'ADMIN_SHARE|PSEXESVC|EXECUTABLE_WRITE', 'high'],
      ['tree_connect', null, 'IPC_SHARE', 'info'],
      ['create', 'PSEXESVC-ATTACKER-1234-stdin', 'IPC_SHARE|PSEXESVC', 'high'],
    ]);
  });

  // BUG (src/events/pending.ts complete): the delete event that follows a successful
  // FILE_DELETE_ON_CLOSE create is a copy of the create event made after it was emitted; when
  // the sink flags events as they come (the CLI does), the copy inherits the create's
  // severity (flags and attack are reset, severity is not), so the delete is rated by rules
  // that do not match it.
  it('the delete-on-close event is rated by its own flags, not the create\'s', () => {
    const cap = new CaptureBuilder();
    const cl = new Smb2Client(cap.conversation().handshake(), 0x11n);
    cl.treeConnect('\\\\10.0.0.12\\ADMIN$', 1);
    cl.create(1, { name: 'x.exe', access: ACCESS.GENERIC_WRITE | ACCESS.DELETE, disposition: DISPOSITION.CREATE, options: CREATE_OPTIONS.DELETE_ON_CLOSE }, fileId(1));
    const flagged: SmbEvent[] = [];
    const pipe = createCapturePipeline('t', (r) => flagged.push(applyFlagRules(r.ev))); // flagged as emitted, like the CLI
    parseCaptureBuffer(cap.pcap(), pipe.sink);
    pipe.finish();
    expect(flagged.map((e) => [e.action, e.flags.join('|'), e.severity])).toEqual([
      ['tree_connect', 'ADMIN_SHARE', 'medium'],
      ['create', 'ADMIN_SHARE|EXECUTABLE_WRITE', 'high'],
      ['delete', 'ADMIN_SHARE', 'medium'],
    ]);
  });
});
