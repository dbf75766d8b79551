/**
 * Found in review of b156061: captureNames numbers names still alike at full depth with ' [n]', but does
 * not check that 'name [n]' is free: another label whose own name (at full depth) is 'name [2]'
 * gets the very same name, and two captures' rows cannot be told apart again.
 * CLI: three files in one directory, $'a\x1b.pcap' (an ESC), 'a\x1b.pcap' (backslash x 1 b) and
 * 'a\x1b.pcap [2]': the table names two of them 'a\x1b.pcap [2]'.
 */
import { expect, it } from 'vitest';
import { captureNames } from '../../src/output/table';

const distinct = (m: ReadonlyMap<string, string>): number => new Set(m.values()).size;

it('a numbered name never equals another capture\'s name (same directory)', () => {
  const labels = ['a\x1b.pcap', 'a\\x1b.pcap', 'a\\x1b.pcap [2]'];
  const names = captureNames(labels);
  // observed: a\x1b.pcap, a\x1b.pcap [2], a\x1b.pcap [2]
  expect(distinct(names), JSON.stringify([...names])).toBe(labels.length);
});

it('a numbered name never equals another capture\'s name (two directories)', () => {
  const labels = ['d/a\x1b.pcap', 'd/a\\x1b.pcap', 'd/a\\x1b.pcap [2]', 'e/a\\x1b.pcap [2]'];
  const names = captureNames(labels);
  expect(distinct(names), JSON.stringify([...names])).toBe(labels.length);
});
