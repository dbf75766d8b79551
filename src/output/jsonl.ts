import { EVENT_FIELDS, eventValues, SmbEvent } from '../events/event';
import { UNSAFE_BMP_CLASS } from './sanitize';

// JSON.stringify escapes C0 and lone surrogates but emits DEL, C1, bidi controls and
// U+2028/U+2029 raw. Escaping them too (as \uXXXX, which JSON.parse turns back into the same
// character) keeps the value exact while making the file safe to `cat` and to split on lines:
// several line-oriented tools treat U+2028/U+2029 as line ends.
const UNSAFE_RAW_IN_JSON = new RegExp(UNSAFE_BMP_CLASS, 'g');

function jsonEscape(ch: string): string {
  return '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0');
}

/**
 * One event as one line of JSON (no trailing newline): keys in EVENT_FIELDS order, values exact,
 * a missing field as null so every line has the same keys.
 *
 * Built as one join of a reused array of pieces, two per field: the key (with the quotes around
 * the previous and this value folded in) and the value's text. A name that needs no escaping is
 * then the event's own string, so the line is the only new string for most events. Measured on
 * the metadata capture: 6.5 KB allocated per event before (a pieces array, "key":value strings
 * and the line, per event), which set the pace of the young-generation collections.
 */
export function toJsonLine(e: SmbEvent, eol = ''): string {
  const n = EVENT_FIELDS.length;
  eventValues(e, values);
  let quoted = 0; // 1 when the previous piece is a bare string that still needs its closing quote
  for (let i = 0; i < n; i++) {
    const v = values[i];
    let text: string;
    let q = 0;
    if (v === null || v === undefined) text = 'null';
    else if (typeof v === 'string') {
      if (OURS[i] || !NEEDS_ESCAPE.test(v)) { text = v; q = 1; } else text = escapedString(i, v);
    } else if (Array.isArray(v)) {
      if (v.length === 0) text = '[]';
      else if (lastArray[i] === v) text = lastText[i];
      else {
        text = value(v);
        // a shared, frozen list (access names) repeats from event to event: formatted once
        if (Object.isFrozen(v)) {
          lastArray[i] = v;
          lastValue[i] = null;
          lastText[i] = text;
        }
      }
    } else text = value(v);
    pieces[2 * i] = KEY[quoted * 2 + q][i];
    pieces[2 * i + 1] = text;
    quoted = q;
  }
  pieces[2 * n] = eol === '\n' ? END_NL[quoted] : eol === '' ? END[quoted] : (quoted ? '"}' : '}') + eol;
  return pieces.join('');
}

const pieces: string[] = new Array<string>(2 * EVENT_FIELDS.length + 1).fill('');
const values: unknown[] = new Array<unknown>(EVENT_FIELDS.length).fill(null);
const END = ['}', '"}'];
const END_NL = ['}\n', '"}\n'];

/** key pieces by [previous value open][this value open]: `"` closing the previous, `"` opening this */
const KEY_PREFIX = EVENT_FIELDS.map((k, i) => `${i ? ',' : '{'}${JSON.stringify(k)}:`);
const KEY = [0, 1, 2, 3].map((c) => KEY_PREFIX.map((k) => `${c & 2 ? '"' : ''}${k}${c & 1 ? '"' : ''}`));

/**
 * The last escaped string per field: one connection's events repeat the capture name, user,
 * share and path, and JSON.stringify plus our extra escapes is the slow path.
 */
const lastValue: (string | null)[] = [];
const lastArray: (readonly unknown[] | null)[] = [];
const lastText: string[] = [];

function escapedString(i: number, v: string): string {
  if (lastValue[i] === v) return lastText[i];
  const text = str(v);
  lastValue[i] = v;
  lastArray[i] = null;
  lastText[i] = text;
  return text;
}

/**
 * Fields whose text smbtrail writes itself, never copied from the wire or the file system:
 * times, formatted addresses, hex ids, actions, share types, severities. They need no escaping,
 * which saves a regular-expression test per field per event. Everything else (capture, dialect
 * strings, users, shares, paths, RPC values, summaries, and status/disposition as a precaution)
 * is escaped.
 */
const OUR_TEXT = new Set<string>(['ts', 'src_ip', 'dst_ip', 'session_id', 'action', 'share_type', 'tree_id', 'severity']);
const OURS = EVENT_FIELDS.map((k) => OUR_TEXT.has(k));

/** anything JSON.stringify would escape, anything we escape on top, and surrogates */
const NEEDS_ESCAPE = new RegExp(`["\\\\\\u0000-\\u001f\\ud800-\\udfff]|${UNSAFE_BMP_CLASS}`);

// Most values are plain ASCII names and numbers: they are written as they are, and only a string
// that needs escaping goes through JSON.stringify (then our extra escapes). Same text, several
// times faster than one JSON.stringify per field.
function str(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s).replace(UNSAFE_RAW_IN_JSON, jsonEscape) : `"${s}"`;
}

function value(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return str(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[${v.map((x) => (typeof x === 'string' ? str(x) : value(x))).join(',')}]`;
  return (JSON.stringify(v) ?? 'null').replace(UNSAFE_RAW_IN_JSON, jsonEscape);
}
