import { describe, expect, it } from 'vitest';
import type { SmbEvent } from '../../src/events/event';
import {
  NO_EVENTS,
  TABLE_HEAD,
  eventCells,
  fitWidths,
  formatTime,
  headWidths,
  measureEvent,
  renderTable,
  tableDrawer,
} from '../../src/output/table';
import { displayWidth } from '../../src/output/width';
import { HOSTILE, UNICODE, hostileEvent, makeEvent } from './fixtures';

const plain = { color: false, columns: 120 };
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Cell texts of the first body row (wide table, so no wrapping). */
function firstRowCells(table: string): string[] {
  const rows = table.split('\n').filter((l) => l.startsWith('│'));
  return rows[1].split('│').slice(1, -1).map((c) => c.trim());
}

describe('renderTable', () => {
  it('prints a one-line note instead of an empty table', () => {
    expect(renderTable([], plain)).toBe(NO_EVENTS);
    expect(NO_EVENTS).toBe('no SMB events');
  });

  it('has the columns in this order', () => {
    const header = renderTable([makeEvent()], { color: false, columns: 300 }).split('\n')[1];
    expect(header.split('│').slice(1, -1).map((c) => c.trim())).toEqual([...TABLE_HEAD]);
    expect([...TABLE_HEAD]).toEqual(['time (UTC)', 'client → server', 'user', 'action', 'target', 'status', 'flags']);
  });

  it('shows one event as time, endpoints, DOMAIN\\user, action, UNC target, short status, flags', () => {
    expect(firstRowCells(renderTable([makeEvent()], { color: false, columns: 300 }))).toEqual([
      '2023-06-30 12:49:11.369218 #42 psexec.pcap',
      '10.0.0.5:49722 → 10.0.0.12',
      'CORP\\administrator',
      'create',
      '\\\\10.0.0.12\\ADMIN$\\PSEXESVC.exe',
      'SUCCESS',
      'high ADMIN_SHARE PSEXESVC EXECUTABLE_WRITE',
    ]);
  });

  it('contains no escape sequence at all when colour is off, even with hostile strings', () => {
    const out = renderTable([hostileEvent(), makeEvent({ severity: 'medium' })], plain);
    expect(out.includes('\x1b')).toBe(false);
    expect(out.includes('\x9b')).toBe(false);
    expect(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]/.test(out)).toBe(false);
  });

  it('shows visible escapes where the wire had control characters', () => {
    const out = renderTable([hostileEvent()], { color: false, columns: 400 });
    expect(out).toContain('\\x1b[31mred\\x1b[0m');
    expect(out).toContain("=cmd|' /C calc'!A0\\\\x1b[31mred"); // domain + '\\' + user; CSV rules do not apply to a terminal
    expect(out).toContain('dir\\line1\\x0aline2.txtinvoice\\u202egpj.exe');
    expect(out).toContain('→ fake\\x0d\\x0a2023-01-01 forged row');
    // the newline in the path did not become a line of the table
    expect(out.split('\n').filter((l) => l.includes('line2.txt'))).toHaveLength(1);
  });

  it('colours the flags cell by severity only when asked', () => {
    const events = [
      makeEvent({ severity: 'high' }),
      makeEvent({ severity: 'medium' }),
      makeEvent({ severity: 'low' }),
    ];
    const out = renderTable(events, { color: true, columns: 300 });
    expect(out).toContain('\x1b[31mhigh ADMIN_SHARE');
    expect(out).toContain('\x1b[33mmedium ADMIN_SHARE');
    expect(out).toContain('\x1b[36mlow ADMIN_SHARE');
    const info = renderTable([makeEvent({ severity: 'info', flags: ['IPC_SHARE'] })], { color: true, columns: 300 });
    expect(info.includes('\x1b')).toBe(false);
    // a hostile ESC stays escaped even with colours on
    expect(renderTable([hostileEvent()], { color: true, columns: 300 })).toContain('\\x1b[31mred');
  });

  it.each([70, 80, 100, 120, 160])('fits in %i columns', (columns) => {
    const events = [
      hostileEvent(),
      makeEvent({ path: 'Windows\\System32\\' + 'very_long_directory_name\\'.repeat(8) + 'payload.exe' }),
      makeEvent({ src_ip: 'fe80::1234:5678:9abc:def0', dst_ip: 'fe80::1', dst_port: 8445 }),
      makeEvent({ status: 'STATUS_OBJECT_NAME_NOT_FOUND', user: 'x'.repeat(200), domain: null }),
      makeEvent({ path: UNICODE.cjk + UNICODE.emoji + UNICODE.accent }),
    ];
    const lines = renderTable(events, { color: false, columns }).split('\n');
    const widest = Math.max(...lines.map(displayWidth));
    expect(widest).toBeLessThanOrEqual(columns);
    expect(lines.some((l) => l.includes('…'))).toBe(false); // wrapped, never truncated
  });

  it('overflows a terminal narrower than 70 columns rather than losing text', () => {
    const lines = renderTable([hostileEvent()], { color: false, columns: 40 }).split('\n');
    expect(Math.max(...lines.map(displayWidth))).toBe(70);
    expect(lines.some((l) => l.includes('…'))).toBe(false);
  });

  it('uses the natural widths when they fit', () => {
    const out = renderTable([makeEvent()], { color: false, columns: 300 });
    expect(out.split('\n')).toHaveLength(5); // top border, head, separator, one row, bottom
    expect(displayWidth(out.split('\n')[0])).toBeLessThan(300);
  });

  it('wraps unicode names without splitting characters', () => {
    const name = UNICODE.emoji + UNICODE.family + UNICODE.cjk + UNICODE.combining;
    for (const columns of [60, 80, 120]) {
      const out = renderTable([makeEvent({ path: name })], { color: false, columns });
      expect(LONE_SURROGATE.test(out)).toBe(false);
      expect(out.includes('\ufffd')).toBe(false);
      for (const grapheme of ['🎉', '😀', '👨‍👩‍👧', 'e\u0301']) expect(out).toContain(grapheme);
    }
    const wide = renderTable([makeEvent({ path: name })], { color: false, columns: 300 });
    expect(wide).toContain(name);
  });

  it('shows renames, missing responses, IPv6 and non-445 servers readably', () => {
    const [, endpoints, user, action, target, status] = eventCells(
      makeEvent({
        action: 'rename',
        new_path: 'evil.exe',
        status: null,
        src_ip: 'fe80::1',
        src_port: 50000,
        dst_ip: 'fe80::2',
        dst_port: 139,
        domain: null,
      }),
    );
    expect(endpoints).toBe('[fe80::1]:50000 → [fe80::2]:139');
    expect(user).toBe('administrator');
    expect(action).toBe('rename');
    expect(target).toBe('\\\\10.0.0.12\\ADMIN$\\PSEXESVC.exe\n→ evil.exe');
    expect(status).toBe('no response');
  });

  it('shows the share alone for the share root, the byte count of reads and writes', () => {
    const cells = eventCells(makeEvent({ action: 'write', bytes: 123456, path: '', status: '0xc0000999' }));
    expect(cells[3]).toBe('write 123456 B');
    expect(cells[4]).toBe('\\\\10.0.0.12\\ADMIN$');
    expect(cells[5]).toBe('0xc0000999');
    expect(eventCells(makeEvent({ share: null, path: 'a.txt', user: null }))[4]).toBe('a.txt');
    expect(eventCells(makeEvent({ user: null }))[2]).toBe('');
  });

  it('sanitises every wire field of a row', () => {
    const cells = eventCells(
      makeEvent({ user: HOSTILE.osc, domain: HOSTILE.bidi, share: HOSTILE.sgr, status: HOSTILE.c1 }),
    );
    for (const cell of cells) expect(/[\x1b\x07\x9b\u202e]/.test(cell)).toBe(false);
    expect(cells[2]).toBe('invoice\\u202egpj.exe\\\\x1b]0;pwned title\\x07');
  });
});

describe('formatTime', () => {
  it('shortens to microseconds without rounding and keeps other precisions', () => {
    expect(formatTime('2023-06-30T12:49:11.369218Z')).toBe('2023-06-30 12:49:11.369218');
    expect(formatTime('2023-06-30T12:49:11.999999999Z')).toBe('2023-06-30 12:49:11.999999');
    expect(formatTime('2023-06-30T12:49:11.5Z')).toBe('2023-06-30 12:49:11.5');
    expect(formatTime('2023-06-30T12:49:11Z')).toBe('2023-06-30 12:49:11');
    expect(formatTime('garbage\x1b')).toBe('garbage\\x1b');
  });
});

describe('fitWidths', () => {
  it('keeps natural widths that fit', () => {
    expect(fitWidths([26, 27, 18, 6, 31, 7, 20], 200)).toEqual([26, 27, 18, 6, 31, 7, 20]);
  });

  it('shrinks the widest columns first, down to the budget', () => {
    const widths = fitWidths([26, 27, 18, 6, 300, 7, 20], 98);
    expect(widths.reduce((a, b) => a + b, 0)).toBe(98);
    expect(widths[4]).toBeGreaterThanOrEqual(22); // the target keeps its soft minimum
    expect(widths[3]).toBe(6); // short columns are not touched
    expect(widths[5]).toBe(7);
  });

  it('stops at the hard minimums when the terminal is too narrow', () => {
    expect(fitWidths([26, 27, 18, 13, 300, 21, 40], 10)).toEqual([8, 8, 6, 6, 8, 6, 6]);
  });

  it('handles a huge path quickly', () => {
    const started = Date.now();
    const widths = fitWidths([26, 27, 18, 13, 5_000_000, 21, 40], 98);
    expect(widths.reduce((a, b) => a + b, 0)).toBe(98);
    expect(Date.now() - started).toBeLessThan(100);
  });
});

describe('tableDrawer (the table drawn row by row from widths measured beforehand)', () => {
  const events = Array.from({ length: 23 }, (_, i) =>
    makeEvent({ frame: i + 1, path: `dir\\file${i}.exe`, severity: i % 2 ? 'high' : 'info' }),
  );
  const measured = (list: readonly SmbEvent[]): number[] => {
    const natural = headWidths();
    for (const e of list) measureEvent(natural, e);
    return natural;
  };

  it('widths measured in any order draw the same table, one row at a time', () => {
    const inOrder = measured(events);
    expect(measured([...events].reverse())).toEqual(inOrder);
    // a long path in one row widens the target column for every row
    expect(inOrder[4]).toBe(Math.max(...events.map((e) => displayWidth(eventCells(e)[4]))));
    const draw = tableDrawer(inOrder, plain);
    const rows = events.map((e) => draw.row(e));
    expect(rows.join('') + draw.end()).toBe(renderTable(events, plain) + '\n');
    // each row ends with a newline; the head comes with the first row only
    expect(rows[0].split('\n')[0].startsWith('┌')).toBe(true);
    expect(rows.slice(1).every((r) => r.startsWith('├') && r.endsWith('\n'))).toBe(true);
  });

  it('colours the flags of each row by its severity', () => {
    const draw = tableDrawer(measured(events), { color: true, columns: 200 });
    expect(draw.row(events[1])).toContain('\x1b[31m');
    expect(draw.row(events[0])).not.toContain('\x1b[');
  });

  it('a table of many rows has one top and one bottom border', () => {
    const many = Array.from({ length: 1501 }, (_, i) => makeEvent({ frame: i + 1 }));
    const text = renderTable(many, plain);
    expect(text.split('\n').filter((l) => l.startsWith('│ 2023-06-30'))).toHaveLength(many.length);
    expect(text.split('\n').filter((l) => l.startsWith('┌'))).toHaveLength(1);
    expect(text.split('\n').filter((l) => l.startsWith('└'))).toHaveLength(1);
  });

  it('ends with the note when no row was drawn', () => {
    expect(tableDrawer(headWidths(), plain).end()).toBe(NO_EVENTS + '\n');
  });
});
