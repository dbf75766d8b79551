import { createRequire } from 'node:module';
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

describe('displayWidth against cli-table3', () => {
  // cli-table3 pads and truncates by string-width (its own dependency). A line we wrap to N
  // columns is only safe from its `…` truncation if we never count fewer columns than it does.
  const requireFromTable = createRequire(require.resolve('cli-table3'));
  const stringWidth = requireFromTable('string-width') as (s: string) => number;
  const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

  it('never counts a grapheme narrower than string-width does', () => {
    const samples = [
      'résumé 日本語のファイル 한국어 中文 ｆｕｌｌ',
      '🎉😀👍🏽👨‍👩‍👧🇫🇷🏴‍☠️❤️©®™↔️#️⃣1️⃣',
      'cafe\u0301 नमस्ते مرحبا שלום ไทย',
    ];
    // and a sweep over the BMP outside controls and surrogates
    let sweep = '';
    for (let c = 0xa0; c < 0xd800; c += 7) sweep += String.fromCharCode(c);
    for (let c = 0xe000; c <= 0xfffd; c += 3) sweep += String.fromCharCode(c);
    const narrower: string[] = [];
    for (const text of [...samples, sweep]) {
      for (const { segment } of segmenter.segment(text)) {
        if (displayWidth(segment) < stringWidth(segment)) narrower.push(segment);
      }
    }
    expect(narrower).toEqual([]);
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
