/**
 * Display width and wrapping for table cells.
 *
 * Why not cli-table3's `wordWrap`: its character wrap slices by UTF-16 length, which cuts emoji
 * in half (lone surrogates, printed as U+FFFD) and lets CJK text overflow so that it gets
 * truncated with `…` — a forensic table must neither corrupt nor hide a file name. So cells are
 * wrapped and measured here, by grapheme cluster, and table.ts pads them by the same measure.
 */

// made on first use: creating it loads ICU's break data (~13 ms), which every scanning worker
// paid at start-up although only the table wraps text
let segmenter: Intl.Segmenter | null = null;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const WIDE_EMOJI = /[\p{Extended_Pictographic}\p{Regional_Indicator}\p{Emoji_Modifier}]/u;

/** Terminal columns taken by a string without control characters (sanitise first). */
export function displayWidth(s: string): number {
  if (PRINTABLE_ASCII.test(s)) return s.length;
  let width = 0;
  for (const ch of s) width += codePointWidth(ch);
  return width;
}

function codePointWidth(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)) return 0;
  if (cp >= 0x300 && cp <= 0x36f) return 0; // combining diacritics join the previous letter
  if (isFullwidth(cp) || WIDE_EMOJI.test(ch)) return 2;
  return 1;
}

/** East Asian Wide/Fullwidth ranges (the table string-width 4 uses). */
function isFullwidth(cp: number): boolean {
  if (cp < 0x1100) return false;
  return (
    cp <= 0x115f ||
    cp === 0x2329 ||
    cp === 0x232a ||
    (cp >= 0x2e80 && cp <= 0x3247 && cp !== 0x303f) ||
    (cp >= 0x3250 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0xa4c6) ||
    (cp >= 0xa960 && cp <= 0xa97c) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe10 && cp <= 0xfe19) ||
    (cp >= 0xfe30 && cp <= 0xfe6b) ||
    (cp >= 0xff01 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1b000 && cp <= 0x1b001) ||
    (cp >= 0x1f200 && cp <= 0x1f251) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/**
 * 'char' breaks anywhere between grapheme clusters and keeps every character (wire strings:
 * a space in a file name is evidence). 'word' breaks at spaces, which it drops, and falls back
 * to 'char' for a word longer than the width (our own short texts: time, status, flags).
 * '\n' in the text is a forced break.
 */
export type WrapMode = 'char' | 'word';

export function wrapText(text: string, width: number, mode: WrapMode): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    lines.push(...(mode === 'char' ? breakAnywhere(paragraph, width) : breakAtSpaces(paragraph, width)));
  }
  return lines;
}

function breakAnywhere(s: string, width: number): string[] {
  if (displayWidth(s) <= width) return [s];
  const lines: string[] = [];
  // printable ASCII: one column per character, no cluster to keep together
  if (PRINTABLE_ASCII.test(s)) {
    for (let at = 0; at < s.length; at += Math.max(1, width)) lines.push(s.slice(at, at + Math.max(1, width)));
    return lines;
  }
  let line = '';
  let used = 0;
  for (const segment of graphemes(s)) {
    const w = displayWidth(segment);
    // A grapheme wider than the whole column still gets a line of its own: never dropped.
    if (used + w > width && line !== '') {
      lines.push(line);
      line = '';
      used = 0;
    }
    line += segment;
    used += w;
  }
  lines.push(line);
  return lines;
}

/**
 * Text in which every UTF-16 unit is a grapheme cluster of its own: no character that joins the
 * one before or after it (marks, joiners, Prepend, SpacingMark letters, Hangul jamo, the halfwidth
 * sound marks U+FF9E/U+FF9F, which are letters that extend, CR), nothing
 * outside the BMP (emoji, regional indicators). Most non-ASCII names (accents precomposed, Cyrillic,
 * CJK, '€') are, and skip the segmenter, which costs ~0.8 µs a cluster.
 */
const ONE_UNIT_CLUSTERS = /^[^\p{M}\u200c\u200d\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u0d4e\u0e33\u0eb3\uff9e\uff9f\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff\r\u{10000}-\u{10ffff}\p{Cs}]*$/u;

/** code units segmented at a time: V8's segmenter slows down with the string's length */
const SEGMENT_CHUNK = 2048;

/**
 * The grapheme clusters of `s`, segmented a chunk at a time. Iterating one segmenter over a whole
 * long string is quadratic in V8 (40,000 characters: 184 ms, ten times 4,000 of them), and a
 * hostile capture's names run to 32,768 characters: drawing a table of 106 such calls took 41 s
 * (found in review). The last cluster of each chunk is segmented again with the next chunk, so a
 * cluster cut by the chunk's end comes out whole.
 */
function* graphemes(s: string): Generator<string> {
  if (ONE_UNIT_CLUSTERS.test(s)) { yield* s; return; }
  const seg = (segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' }));
  let from = 0;
  let size = SEGMENT_CHUNK;
  while (from < s.length) {
    let end = Math.min(s.length, from + size);
    // never between the two halves of a surrogate pair: a lone half is a cluster of its own
    const c = s.charCodeAt(end - 1);
    if (end < s.length && c >= 0xd800 && c <= 0xdbff) end--;
    let last = '';
    let lastAt = from;
    for (const { segment, index } of seg.segment(s.slice(from, end))) {
      if (last !== '') yield last;
      last = segment;
      lastAt = from + index;
    }
    if (end === s.length) { if (last !== '') yield last; return; }
    // one cluster fills the chunk (nothing yielded yet): segmented again with twice as much
    // (a letter with 3,000 combining marks came out in pieces, found in review)
    if (lastAt === from) { size *= 2; continue; }
    // the last cluster may continue in the next chunk: it is segmented again with it
    size = SEGMENT_CHUNK;
    from = lastAt;
  }
}

function breakAtSpaces(s: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of s.split(' ').filter((w) => w !== '')) {
    const joined = line === '' ? word : line + ' ' + word;
    if (displayWidth(joined) <= width) {
      line = joined;
      continue;
    }
    if (line !== '') lines.push(line);
    const pieces = breakAnywhere(word, width);
    line = pieces.pop() ?? '';
    lines.push(...pieces);
  }
  lines.push(line);
  return lines;
}
