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
export function toJsonLine(e: SmbEvent): string {
  let out = '{';
  for (let i = 0; i < EVENT_FIELDS.length; i++) {
    // one stringify per value with the key text precomputed: several times faster than building
    // an ordered copy of the event and stringifying that
    out += KEY_PREFIX[i] + (JSON.stringify(e[EVENT_FIELDS[i]] ?? null) as string);
  }
  // Only string contents can hold these characters (keys and punctuation are ASCII), so a
  // replacement over the whole text stays valid JSON.
  return (out + '}').replace(UNSAFE_RAW_IN_JSON, jsonEscape);
}

const KEY_PREFIX = EVENT_FIELDS.map((k, i) => `${i ? ',' : ''}${JSON.stringify(k)}:`);

