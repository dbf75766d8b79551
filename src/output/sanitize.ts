/**
 * Every string that came off the wire (user names, share and file names, dialect strings…) is
 * attacker-controlled. These helpers make such strings safe for the two places where they are
 * interpreted rather than just stored: a terminal, and a spreadsheet opening our CSV.
 *
 * Policy (one set of characters for terminal, CSV and the JSON escaping in jsonl.ts):
 * - C0 controls 0x00–0x1f, DEL 0x7f and C1 controls 0x80–0x9f: ESC and CSI (0x9b) start terminal
 *   escape sequences (colours, window titles, cursor moves that can hide earlier lines), and
 *   CR/LF/BS can forge or overwrite table rows.
 * - Bidi controls U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069: they reorder what is
 *   displayed ("Trojan Source", CVE-2021-42574), so `exe.txt` can really be `txt.exe`.
 * - Invisible characters U+200B, U+2060–U+206F, U+FEFF and the line/paragraph separators
 *   U+2028/U+2029: two names that look identical must not be identical on screen.
 * - Unpaired UTF-16 surrogates (SMB names are UTF-16LE and need not be well formed): written as
 *   UTF-8 they would silently become U+FFFD, losing the evidence.
 * ZWJ/ZWNJ (U+200C/U+200D) are kept: emoji sequences and several scripts need them.
 *
 * Escapes are `\xHH` below 0x100 and `\uHHHH` above, lowercase hex. Backslashes are NOT doubled:
 * Windows paths are full of them and doubling would make every path unreadable. So the text
 * `\x1b` in a displayed name is ambiguous between a real ESC and those four characters; the
 * JSON lines output is the exact record when that matters.
 */

/** Source of the character class of what must never reach a terminal unescaped (BMP part). */
export const UNSAFE_BMP_CLASS =
  '[\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200b\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2060-\\u206f\\ufeff]';

// No `u` flag on purpose: surrogates must be matched as separate code units to find lone ones.
const LONE_SURROGATE = '[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
const UNSAFE = new RegExp(`${UNSAFE_BMP_CLASS}|${LONE_SURROGATE}`, 'g');

/** Visible escape of one UTF-16 code unit. */
export function escapeCodeUnit(ch: string): string {
  const code = ch.charCodeAt(0);
  return code < 0x100
    ? '\\x' + code.toString(16).padStart(2, '0')
    : '\\u' + code.toString(16).padStart(4, '0');
}

/** A wire string made safe to print: no control, bidi or invisible character gets through raw. */
export function forTerminal(s: string): string {
  return s.replace(UNSAFE, escapeCodeUnit);
}

// OWASP "CSV Injection": cells starting with these are formulas in Excel/LibreOffice/Sheets
// (tab and CR because some importers strip them and then see the next character; NUL per
// OWASP ASVS 1.2.10).
const FORMULA_FIRST = /^[=+\-@\t\r\x00]/;
// Spreadsheets may trim leading whitespace before deciding whether a cell is a formula, so
// ` =1+1` is treated like `=1+1`; importers that strip quotes make `"=1+1` one too (found by
// fuzzing: a share named `"=…` kept no prefix).
const FORMULA_AFTER_SPACE = /^[\s\x00"']+[=+\-@]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * A wire string as one CSV cell: formula neutralised with a leading `'` (decided on the raw
 * value), control characters escaped exactly as for the terminal (CSV timelines get `cat`ed and
 * grepped too, and it keeps every record on one physical line), then RFC 4180 quoting.
 */
export function forCsvCell(s: string): string {
  const neutral = isFormulaLike(s) ? "'" + forTerminal(s) : forTerminal(s);
  return NEEDS_QUOTES.test(neutral) ? '"' + neutral.replace(/"/g, '""') + '"' : neutral;
}

export function isFormulaLike(s: string): boolean {
  return FORMULA_FIRST.test(s) || FORMULA_AFTER_SPACE.test(s);
}
