import { SmbEvent, Severity } from '../events/event';
import { forTerminal } from './sanitize';
import { numberAlike } from '../util/numbered';
import { WrapMode, displayWidth, wrapText } from './width';

export interface TableOptions {
  /** ANSI colours for the severity; false means not a single escape sequence in the output */
  color: boolean;
  /** terminal width the whole table must fit in (borders included) */
  columns: number;
  /** how each capture label is shown (captureNames); the base name when absent */
  names?: CaptureNames;
}

/**
 * capture label → the name the table shows for it (a Map: a plain object took a capture named
 * `__proto__` for its prototype and the table abandoned the file, found in review)
 */
export type CaptureNames = ReadonlyMap<string, string>;

/**
 * The shortest end of each label's path that no other label of the batch ends with: `cap.pcap`
 * while it is the only one of that name, `hostA/cap.pcap` and `hostB/cap.pcap` when two
 * directories hold one each (found by a new-user trial: both were shown as `cap.pcap`, and a
 * row could not be traced to its file). The whole label when nothing shorter is unique.
 */
export function captureNames(labels: readonly string[]): CaptureNames {
  // unique as displayed: an ESC in one name and the four characters `\x1b` in another look alike
  const parts = labels.map((l) => forTerminal(l).split('/'));
  const depth = labels.map(() => 1);
  const shown = (i: number): string => parts[i].slice(-depth[i]).join('/');
  for (let changed = true; changed;) {
    changed = false;
    const seen = new Map<string, number[]>();
    labels.forEach((_, i) => {
      const k = shown(i);
      const same = seen.get(k);
      if (same) same.push(i); else seen.set(k, [i]);
    });
    for (const same of seen.values()) {
      if (same.length < 2) continue;
      for (const i of same) {
        if (depth[i] < parts[i].length) { depth[i]++; changed = true; }
      }
    }
  }
  // names still alike at full depth (displayed the same): numbered in input order, with a number
  // that no other capture's own name already ends in (a file may be named `x.pcap [2]`)
  const names = numberAlike(labels.map((_, i) => shown(i)));
  return new Map(labels.map((l, i) => [l, names[i]]));
}

export const DEFAULT_COLUMNS = 120;
export const NO_EVENTS = 'no SMB events';
export const TABLE_HEAD = ['time (UTC)', 'client → server', 'user', 'action', 'target', 'status', 'flags'] as const;

interface ColumnSpec {
  /** wire strings wrap anywhere (every character is evidence), our own texts at spaces */
  wrap: WrapMode;
  /** shrunk below this only when every column is already at its soft minimum */
  soft: number;
  /** never shrunk below this; the table overflows a terminal narrower than the sum */
  hard: number;
}

// Same order as TABLE_HEAD. Soft minimums: time splits into date / time of day (15), an IPv4
// client ip:port → server into two lines (18), the action column holds "session_setup" (13),
// the target keeps the most room as it is what a responder reads first. They add up to 98, which fits the 98 columns of content that a
// 120-column terminal leaves after the 22 columns of borders and padding. The hard minimums
// (48 + 22) make 70 columns the narrowest terminal the table fits in.
const COLUMNS: readonly ColumnSpec[] = [
  { wrap: 'word', soft: 15, hard: 8 },
  { wrap: 'word', soft: 18, hard: 8 },
  { wrap: 'char', soft: 10, hard: 6 },
  { wrap: 'word', soft: 13, hard: 6 },
  { wrap: 'char', soft: 22, hard: 8 },
  { wrap: 'word', soft: 8, hard: 6 },
  { wrap: 'word', soft: 12, hard: 6 },
];
const FLAGS_COLUMN = 6;
const PADDING = 1; // each side of every cell
const SEVERITY_SGR: Partial<Record<Severity, string>> = {
  high: '\x1b[31m',
  medium: '\x1b[33m',
  low: '\x1b[36m',
};
const SGR_DEFAULT_FG = '\x1b[39m';

/** The events as a bordered table fitted to `columns`, or a one-line note when there are none. */
export function renderTable(events: readonly SmbEvent[], opts: TableOptions): string {
  const natural = headWidths();
  const names = opts.names ?? captureNames([...new Set(events.map((e) => e.capture))]);
  for (const e of events) measureEvent(natural, e, names);
  const draw = tableDrawer(natural, { ...opts, names });
  return (events.map((e) => draw.row(e)).join('') + draw.end()).slice(0, -1);
}

/** The natural width of each column before any event: the head's. */
export function headWidths(): number[] {
  return naturalWidths([[...TABLE_HEAD]]);
}

/**
 * Widens `natural` to one event's cells. The widths do not depend on the order of the rows, so
 * they are measured as the events arrive and the table is drawn later from the sorted stream,
 * row by row: no event is kept for the table (all of them were: 547 MiB for the 480,000 events of
 * the metadata ×40 capture).
 */
export function measureEvent(natural: number[], e: SmbEvent, names?: CaptureNames): void {
  const cells = eventCells(e, names);
  for (let i = 0; i < cells.length; i++) {
    for (const line of cells[i].split('\n')) natural[i] = Math.max(natural[i], displayWidth(line));
  }
}

/** Draws the table one row at a time (each row's text ends with a newline), then its end. */
export interface TableDrawer {
  row(e: SmbEvent): string;
  end(): string;
}

/** `natural`: the widths measured over every event the table will hold (measureEvent). */
export function tableDrawer(natural: readonly number[], opts: TableOptions): TableDrawer {
  const widths = fitWidths(natural, usableColumns(opts.columns));
  const top = border('┌', '┬', '┐', widths);
  const between = border('├', '┼', '┤', widths);
  const bottom = border('└', '┴', '┘', widths);
  let rows = 0;
  return {
    row(e) {
      const lines = rows++ === 0 ? [top, ...drawRow([...TABLE_HEAD], widths, undefined), between] : [between];
      lines.push(...drawRow(eventCells(e, opts.names), widths, opts.color ? SEVERITY_SGR[e.severity] : undefined));
      return lines.join('\n') + '\n';
    },
    end: () => (rows === 0 ? NO_EVENTS : bottom) + '\n',
  };
}

/*
 * The borders and cells are drawn here, not by cli-table3: on the 4,380 events of the bundled
 * captures cli-table3 spent 85% of a 12 s run measuring strings (it builds a new ANSI regular
 * expression for every measurement); the cells are wrapped and measured by width.ts already.
 * The layout is cli-table3's: box-drawing borders, one space of padding, a rule between rows.
 */
function border(left: string, mid: string, right: string, widths: readonly number[]): string {
  return left + widths.map((w) => '─'.repeat(w + 2 * PADDING)).join(mid) + right;
}

/** one row: each cell wrapped to its column, padded to its width, top-aligned; colour on the flags */
function drawRow(cells: readonly string[], widths: readonly number[], colour: string | undefined): string[] {
  const wrapped = cells.map((text, i) => wrapText(text, widths[i], COLUMNS[i].wrap));
  const height = Math.max(1, ...wrapped.map((l) => l.length));
  const pad = ' '.repeat(PADDING);
  const lines: string[] = [];
  for (let y = 0; y < height; y++) {
    let line = '│';
    for (let i = 0; i < cells.length; i++) {
      const text = wrapped[i][y] ?? '';
      const fill = ' '.repeat(Math.max(0, widths[i] - displayWidth(text)));
      const shown = colour !== undefined && i === FLAGS_COLUMN && text !== '' ? colour + text + SGR_DEFAULT_FG : text;
      line += pad + shown + fill + pad + '│';
    }
    lines.push(line);
  }
  return lines;
}

/** The seven cell texts of one event, sanitised, before wrapping. */
export function eventCells(e: SmbEvent, names?: CaptureNames): string[] {
  return [
    // where to check it in Wireshark: frame number and capture file, under the time
    `${formatTime(e.ts)} #${e.frame} ${forTerminal(nameOf(e.capture, names))}`,
    formatEndpoints(e),
    formatUser(e),
    formatAction(e),
    formatTarget(e, names),
    e.action === 'story' ? '' : formatStatus(e.status),
    forTerminal([e.severity, ...e.flags, ...e.rules].join(' ')),
  ];
}

/**
 * `2023-06-30T12:49:11.369218123Z` → `2023-06-30 12:49:11.369218`: microseconds are enough to
 * tell events apart on screen; truncated, not rounded, so the second never changes. The full
 * value is in CSV and JSON.
 */
const nameOf = (label: string, names: CaptureNames | undefined): string => names?.get(label) ?? label.slice(label.lastIndexOf('/') + 1);

export function formatTime(ts: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(ts);
  if (m === null) return forTerminal(ts);
  return `${m[1]} ${m[2]}${m[3] === undefined ? '' : '.' + m[3].slice(0, 6)}`;
}

/** `client:port → server`; the server port only when it is not 445, as SMB is found on any port. */
function formatEndpoints(e: SmbEvent): string {
  const client = `${hostForPort(e.src_ip)}:${e.src_port}`;
  const server = e.dst_port === 445 ? forTerminal(e.dst_ip) : `${hostForPort(e.dst_ip)}:${e.dst_port}`;
  return `${client} → ${server}`;
}

function hostForPort(ip: string): string {
  return ip.includes(':') ? `[${forTerminal(ip)}]` : forTerminal(ip);
}

function formatUser(e: SmbEvent): string {
  if (e.user === null) return '';
  return e.domain ? `${forTerminal(e.domain)}\\${forTerminal(e.user)}` : forTerminal(e.user);
}

function formatAction(e: SmbEvent): string {
  return e.bytes === null ? e.action : `${e.action} ${e.bytes} B`;
}

/**
 * `\\server\share\path`, and a rename's new name on its own line after an arrow; an RPC call
 * adds `interface.operation` and its arguments; a story is its one-line account and the frames
 * of its steps.
 */
function formatTarget(e: SmbEvent, names: CaptureNames | undefined): string {
  if (e.action === 'story') return `${forTerminal(e.summary ?? '')}\nsteps: ${formatRefs(e, names)}`;
  const share = e.share === null ? '' : forTerminal(e.share);
  const path = e.path ? forTerminal(e.path) : '';
  let target = share !== '' && path !== '' ? `${share}\\${path}` : share + path;
  if (e.new_path !== null) target += `\n→ ${forTerminal(e.new_path)}`;
  if (e.action === 'rpc') {
    const call = `${forTerminal(e.rpc_interface ?? '?')}.${forTerminal(e.rpc_operation ?? '?')}`;
    target = target ? `${target}\n${call}` : call;
    for (const [k, v] of Object.entries(e.rpc_args ?? {})) target += `\n${forTerminal(k)}=${forTerminal(v)}`;
    if (e.summary) target += `\n${forTerminal(e.summary)}`;
  }
  return target;
}

/** `#16 #49 …` when every step is in the story's own capture, `file#frame` otherwise */
function formatRefs(e: SmbEvent, names: CaptureNames | undefined): string {
  const own = `${e.capture}#`;
  return e.refs.map((r) => {
    if (r.startsWith(own)) return forTerminal(r.slice(own.length - 1));
    const at = r.lastIndexOf('#');
    if (at < 0) return forTerminal(nameOf(r, names));
    return forTerminal(`${nameOf(r.slice(0, at), names)}${r.slice(at)}`);
  }).join(' ');
}

/** `STATUS_ACCESS_DENIED` → `ACCESS_DENIED`: the prefix is on every name and costs width. */
function formatStatus(status: string | null): string {
  if (status === null) return 'no response';
  return forTerminal(status.startsWith('STATUS_') ? status.slice('STATUS_'.length) : status);
}

function usableColumns(columns: number): number {
  const total = Number.isFinite(columns) && columns > 0 ? Math.floor(columns) : DEFAULT_COLUMNS;
  const borders = COLUMNS.length + 1;
  return total - borders - 2 * PADDING * COLUMNS.length;
}

/** Widest line (at forced breaks only) of each column over all rows. */
function naturalWidths(rows: readonly string[][]): number[] {
  const widths = COLUMNS.map(() => 1);
  for (const row of rows) {
    row.forEach((text, i) => {
      for (const line of text.split('\n')) widths[i] = Math.max(widths[i], displayWidth(line));
    });
  }
  return widths;
}

/**
 * Content widths that add up to at most `budget`: the widest column gives up a column at a
 * time, first down to the soft minimums, then down to the hard ones. Narrow columns keep
 * their natural width, so short values never wrap just because a path is long.
 */
export function fitWidths(natural: readonly number[], budget: number): number[] {
  const widths = [...natural];
  shrink(widths, budget, COLUMNS.map((c) => c.soft));
  shrink(widths, budget, COLUMNS.map((c) => c.hard));
  return widths;
}

function shrink(widths: number[], budget: number, floors: readonly number[]): void {
  let excess = widths.reduce((a, b) => a + b, 0) - budget;
  while (excess > 0) {
    let widest = -1;
    widths.forEach((w, i) => {
      if (w > floors[i] && (widest < 0 || w > widths[widest])) widest = i;
    });
    if (widest < 0) return;
    // Jump straight to the next-widest level (or the floor, or the budget) instead of
    // decrementing one by one: a 32 KB path name must not cost 32 K passes.
    const next = Math.max(floors[widest], nextLevel(widths, floors, widest), widths[widest] - excess);
    const step = Math.max(1, widths[widest] - next);
    widths[widest] -= step;
    excess -= step;
  }
}

/** Width of the widest other column that can still shrink (0 when none). */
function nextLevel(widths: readonly number[], floors: readonly number[], except: number): number {
  return widths.reduce((m, w, i) => (i !== except && w > floors[i] ? Math.max(m, w) : m), 0);
}
