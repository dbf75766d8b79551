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
