import { describe, expect, it } from 'vitest';
import { displayWidth, wrapText } from '../../src/output/width';

describe('displayWidth', () => {
  it('counts terminal columns', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('日本語')).toBe(6);
    expect(displayWidth('😀')).toBe(2);
    expect(displayWidth('e\u0301')).toBe(1);
    expect(displayWidth('é')).toBe(1);
    expect(displayWidth('→')).toBe(1);
  });
});

describe('wrapText', () => {
  it('char mode keeps every character, spaces included', () => {
    const s = 'a b  c\\very\\long path \\name.txt';
    const lines = wrapText(s, 5, 'char');
    expect(lines.join('')).toBe(s);
    for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(5);
  });

  it('char mode never splits a grapheme and respects wide characters', () => {
    const s = '日本語😀👨‍👩‍👧e\u0301x';
    const lines = wrapText(s, 4, 'char');
    expect(lines).toEqual(['日本', '語😀', '👨‍👩‍👧', 'e\u0301x']);
  });

  it('word mode breaks at spaces and hard-breaks overlong words', () => {
    expect(wrapText('high ADMIN_SHARE PSEXESVC', 12, 'word')).toEqual(['high', 'ADMIN_SHARE', 'PSEXESVC']);
    expect(wrapText('OBJECT_NAME_NOT_FOUND', 8, 'word')).toEqual(['OBJECT_N', 'AME_NOT_', 'FOUND']);
    expect(wrapText('2023-06-30 12:49:11.369218', 15, 'word')).toEqual(['2023-06-30', '12:49:11.369218']);
  });

  it('honours forced line breaks and empty text', () => {
    expect(wrapText('a\n→ b', 10, 'char')).toEqual(['a', '→ b']);
    expect(wrapText('', 10, 'word')).toEqual(['']);
    expect(wrapText('', 10, 'char')).toEqual(['']);
  });
});

describe('wrapText on names as long as the decoder keeps (32,768 characters)', () => {
  /** the reference: one segmenter over the whole string, lines filled greedily by width */
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

  it('the same lines as one pass of the segmenter, clusters cut by its chunks kept whole', () => {
    // clusters of 1 to 11 code units (a family emoji with joiners, flags, combining marks) at
    // every offset, so that chunk edges fall inside each kind
    const clusters = ['€', 'e\u0301', '👨‍👩‍👧‍👦', '🇫🇷', '漢', 'a', 'x\u0301\u0302\u0303'];
    let s = '';
    for (let i = 0; s.length < 30_000; i++) s += clusters[(i * 7 + (i >> 3)) % clusters.length];
    for (const width of [1, 7, 22]) expect(wrapText(s, width, 'char')).toEqual(reference(s, width));
    expect(wrapText(s, 22, 'char').join('')).toBe(s);
  });

  it('text whose every unit is a cluster (accents precomposed, CJK, Cyrillic, €) skips the segmenter with the same lines', () => {
    for (const t of ['Ünïcødé €漢字 Привет © ™ ☺ ', 'ก้าว e\u0301 각 가', 'ña\u0303 한국어 \u0e33 x\ry', '𝒳 🇫🇷 ☺\ufe0f']) {
      const s = t.repeat(400);
      for (const width of [1, 5, 22]) expect(wrapText(s, width, 'char')).toEqual(reference(s, width));
    }
  });

  // found in review of f488afe
  it('halfwidth katakana sound marks (U+FF9E, U+FF9F: Grapheme_Extend, category Lm, not \\p{M}) stay with their letter', () => {
    expect(wrapText('ｶﾞｶﾞｶﾞ', 3, 'char')).toEqual(reference('ｶﾞｶﾞｶﾞ', 3));
    expect(wrapText('ﾃﾞｰﾀﾍﾞｰｽ.mdb', 5, 'char')).toEqual(reference('ﾃﾞｰﾀﾍﾞｰｽ.mdb', 5));
  });

  it('a cluster longer than a segmented chunk is not cut in two (a letter with 3,000 combining marks)', () => {
    const s = '\u0915' + '\u0951'.repeat(3000) + 'abc';
    expect(wrapText(s, 22, 'char')).toEqual(reference(s, 22));
  });

  it('printable ASCII is cut every `width` characters', () => {
    const ascii = 'x'.repeat(32_768);
    expect(wrapText(ascii, 22, 'char')).toHaveLength(Math.ceil(32_768 / 22));
    expect(wrapText(ascii, 22, 'char').join('')).toBe(ascii);
  });
});
