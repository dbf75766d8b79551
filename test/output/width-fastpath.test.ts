/**
 * Found in review of f488afe (src/output/width.ts). wrapText's claims: the ONE_UNIT_CLUSTERS fast path
 * "equals the segmenter", and chunked segmentation "equals one pass" with "a cluster cut by the
 * chunk's end" coming out whole.
 */
import { describe, expect, it } from 'vitest';
import { displayWidth, wrapText } from '../../src/output/width';

function reference(s: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  let used = 0;
  for (const { segment } of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s)) {
    const w = displayWidth(segment);
    if (used + w > width && line !== '') { lines.push(line); line = ''; used = 0; }
    line += segment;
    used += w;
  }
  lines.push(line);
  return lines;
}

describe('ONE_UNIT_CLUSTERS fast path', () => {
  it('halfwidth katakana voiced/semi-voiced marks (U+FF9E, U+FF9F: Grapheme_Extend, category Lm, not \\p{M}) stay with their letter', () => {
    // 'ｶﾞ' is one grapheme cluster; observed: ['ｶﾞｶ', 'ﾞｶﾞ'] (the mark starts a line alone)
    expect(wrapText('ｶﾞｶﾞｶﾞ', 3, 'char')).toEqual(reference('ｶﾞｶﾞｶﾞ', 3));
    expect(wrapText('ﾃﾞｰﾀﾍﾞｰｽ.mdb', 5, 'char')).toEqual(reference('ﾃﾞｰﾀﾍﾞｰｽ.mdb', 5));
  });
});

describe('chunked segmentation (2,048 units a chunk)', () => {
  it('a cluster longer than a chunk is not cut in two', () => {
    // U+0915 + 3,000 × U+0951 (Mn) is one cluster; observed: lines of 2,048 + 953 units vs one of 3,001
    const s = '\u0915' + '\u0951'.repeat(3000) + 'abc';
    expect(wrapText(s, 22, 'char')).toEqual(reference(s, 22));
  });
});
