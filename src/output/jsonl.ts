import { EVENT_FIELDS, SmbEvent } from '../events/event';
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
 */
export function toJsonLine(e: SmbEvent, eol = ''): string {
  // joined, not concatenated: `+=` leaves a rope of 50 pieces per line, which costs memory in
  // the sorter and time when it is finally flattened
  const parts = new Array<string>(EVENT_FIELDS.length + 1);
  for (let i = 0; i < EVENT_FIELDS.length; i++) {
    const v = e[EVENT_FIELDS[i]];
    if (v === null || v === undefined) parts[i] = NULL_PART[i];
    else if (typeof v === 'string') parts[i] = stringPart(i, v);
    else if (Array.isArray(v) && v.length === 0) parts[i] = EMPTY_LIST_PART[i];
    else parts[i] = KEY_PREFIX[i] + value(v);
  }
  parts[EVENT_FIELDS.length] = eol === '' ? '}' : '}' + eol;
  return parts.join('');
}

/**
 * The last string written per field and its text: one connection's events repeat the capture
 * name, addresses, user, share and status, so most fields are written without being scanned
 * for characters to escape (a third of the formatting time on a metadata-heavy capture).
 */
const lastValue: (string | null)[] = [];
const lastPart: string[] = [];

function stringPart(i: number, v: string): string {
  if (lastValue[i] === v) return lastPart[i];
  const part = KEY_PREFIX[i] + (OURS[i] ? `"${v}"` : str(v));
  // V8 flattens a concatenation in place when it is indexed: the join that reuses this part
  // then copies one piece instead of walking a tree of them
  part.charCodeAt(0);
  lastValue[i] = v;
  lastPart[i] = part;
  return part;
}

const KEY_PREFIX = EVENT_FIELDS.map((k, i) => `${i ? ',' : '{'}${JSON.stringify(k)}:`);
const NULL_PART = KEY_PREFIX.map((k) => `${k}null`);
const EMPTY_LIST_PART = KEY_PREFIX.map((k) => `${k}[]`);

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
