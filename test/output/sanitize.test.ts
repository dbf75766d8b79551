import { describe, expect, it } from 'vitest';
import { forCsvCell, forTerminal, isFormulaLike } from '../../src/output/sanitize';
import { HOSTILE, UNICODE } from './fixtures';

/** Independent statement of the policy: code units that must never come out raw. */
function mustEscape(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200b ||
    code === 0x200e ||
    code === 0x200f ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2060 && code <= 0x206f) ||
    code === 0xfeff
  );
}

describe('forTerminal', () => {
  it('escapes ANSI CSI and OSC sequences visibly', () => {
    expect(forTerminal(HOSTILE.sgr)).toBe('\\x1b[31mred\\x1b[0m');
    expect(forTerminal(HOSTILE.osc)).toBe('\\x1b]0;pwned title\\x07');
  });

  it('escapes NUL, line breaks, tab, DEL and C1 controls', () => {
    expect(forTerminal(HOSTILE.nul)).toBe('a\\x00b');
    expect(forTerminal(HOSTILE.crlf)).toBe('fake\\x0d\\x0a2023-01-01 forged row');
    expect(forTerminal('a\tb\x7fc\x08')).toBe('a\\x09b\\x7fc\\x08');
    expect(forTerminal(HOSTILE.c1)).toBe('csi\\x9b31m');
    expect(forTerminal('nel\u0085')).toBe('nel\\x85');
  });

  it('escapes bidi overrides, isolates and marks, and invisible separators', () => {
    expect(forTerminal(HOSTILE.bidi)).toBe('invoice\\u202egpj.exe');
    expect(forTerminal(HOSTILE.lineSep)).toBe('x\\u2028y\\u2029z');
    const all = '\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u200b\ufeff\u2060';
    expect(forTerminal(all)).toBe(
      '\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c\\u200b\\ufeff\\u2060',
    );
  });

  it('escapes unpaired surrogates but keeps valid pairs', () => {
    expect(forTerminal(HOSTILE.loneSurrogate)).toBe('bad\\ud800name');
    expect(forTerminal('x\udc00')).toBe('x\\udc00');
    expect(forTerminal('\udc00\ud800')).toBe('\\udc00\\ud800');
    expect(forTerminal('😀')).toBe('😀');
  });

  it('leaves backslashes and legitimate unicode exactly as they are', () => {
    expect(forTerminal('\\\\10.0.0.12\\C$\\Windows\\x1b.txt')).toBe('\\\\10.0.0.12\\C$\\Windows\\x1b.txt');
    for (const name of Object.values(UNICODE)) expect(forTerminal(name)).toBe(name);
  });

  it('lets no unsafe code unit of the whole BMP through', () => {
    let all = '';
    for (let c = 0; c <= 0xffff; c++) all += String.fromCharCode(c);
    const out = forTerminal(all);
    const leaked: number[] = [];
    for (let i = 0; i < out.length; i++) {
      const code = out.charCodeAt(i);
      if (mustEscape(code)) leaked.push(code);
    }
    expect(leaked).toEqual([]);
    // U+DBFF followed by U+DC00 is the only valid pair in the sequence; all other surrogates
    // are unpaired and must be escaped.
    expect(out.match(/[\ud800-\udfff]/g)?.length).toBe(2);
    expect(out.includes('\udbff\udc00')).toBe(true);
    expect(out.startsWith('\\x00\\x01')).toBe(true);
  });
});

describe('forCsvCell', () => {
  it.each([
    [HOSTILE.formulaCmd, "'=cmd|' /C calc'!A0"],
    [HOSTILE.plusOne, "'+1"],
    [HOSTILE.minus, "'-2+3"],
    [HOSTILE.at, "'@SUM(1)"],
    [HOSTILE.tab, "'\\x09x"],
    [HOSTILE.cr, "'\\x0dx"],
    ['\x00=1', "'\\x00=1"],
    [' =1+1', "' =1+1"],
    ['\n  @x', "'\\x0a  @x"],
  ])('neutralises the formula %j', (input, expected) => {
    expect(forCsvCell(input)).toBe(expected);
  });

  it.each([
    [HOSTILE.quoteComma, '"say ""hi"", ok"'],
    ['=HYPERLINK("http://x","y")', '"\'=HYPERLINK(""http://x"",""y"")"'],
    ['a,b', '"a,b"'],
    ['"', '""""'],
  ])('quotes per RFC 4180: %j', (input, expected) => {
    expect(forCsvCell(input)).toBe(expected);
  });

  it('escapes control characters like the terminal does, so a record stays on one line', () => {
    expect(forCsvCell(HOSTILE.newline)).toBe('dir\\line1\\x0aline2.txt');
    expect(forCsvCell(HOSTILE.crlf)).toBe('fake\\x0d\\x0a2023-01-01 forged row');
    expect(forCsvCell(HOSTILE.sgr)).toBe('\\x1b[31mred\\x1b[0m');
    expect(forCsvCell(HOSTILE.bidi)).toBe('invoice\\u202egpj.exe');
  });

  it('leaves harmless and unicode values unchanged', () => {
    for (const s of ['', 'a-b', 'x=1', 'user@corp', '3.1.1', '\\\\srv\\C$', ...Object.values(UNICODE)]) {
      expect(forCsvCell(s)).toBe(s);
    }
  });

  it('decides on the first non-blank character only', () => {
    expect(isFormulaLike('  plain')).toBe(false);
    expect(isFormulaLike('\t')).toBe(true);
    expect(isFormulaLike('\u3000=1')).toBe(true); // ideographic space is whitespace too
    expect(isFormulaLike('a=1')).toBe(false);
  });

  // Found by fuzzing (2026-12-02): a share, path or domain starting with `"=` kept no prefix;
  // importers that strip quotes then read a formula
  it('a formula behind leading quotes is neutralised too', () => {
    expect(forCsvCell('"=198.18.10.10\\IP')).toBe(`"'""=198.18.10.10\\IP"`);
    expect(forCsvCell(' "=1+1')).toBe(`"' ""=1+1"`);
    expect(forCsvCell('""=1')).toBe(`"'""""=1"`);
    expect(forCsvCell("'@SUM(A1)")).toBe("''@SUM(A1)");
    expect(isFormulaLike('" -2D0F0A866')).toBe(true);
    expect(isFormulaLike('"quoted" name')).toBe(false);
  });
});
