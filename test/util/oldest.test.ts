import { describe, expect, it } from 'vitest';
import { moveToBack, oldestIdle, oldestKey } from '../../src/util/oldest';
import { closeFile, filePath, MAX_NAME_CHARS, MAX_PATH_CHARS_PER_SESSION, OpenFile, openFile, Session, SessionTable } from '../../src/events/state';

describe('oldestKey', () => {
  it('follows insertion order through deletions from the front, anywhere, and re-insertions', () => {
    const m = new Map<number, string>();
    expect(oldestKey(m)).toBeUndefined();
    for (let i = 0; i < 10; i++) m.set(i, `v${i}`);
    expect(oldestKey(m)).toBe(0);
    expect(oldestKey(m)).toBe(0); // asking does not consume
    m.delete(0);
    expect(oldestKey(m)).toBe(1);
    m.delete(2);
    m.delete(1);
    expect(oldestKey(m)).toBe(3);
    for (let i = 3; i < 10; i++) m.delete(i);
    expect(oldestKey(m)).toBeUndefined();
    m.set(42, 'late');
    m.set(7, 'again');
    expect(oldestKey(m)).toBe(42);
  });

  it('a key evicted and set again is the newest, not the oldest (a reused message id)', () => {
    const m = new Map([[0, 'a'], [1, 'b'], [2, 'c']]);
    m.delete(oldestKey(m) as number);
    m.set(0, 'again');
    expect(oldestKey(m)).toBe(1);
    m.delete(1);
    m.delete(2);
    expect(oldestKey(m)).toBe(0);
  });

  it('moveToBack: the same value set again under the same key becomes the newest (a second chance)', () => {
    const m = new Map([[0, 'a'], [1, 'b'], [2, 'c']]);
    expect(oldestKey(m)).toBe(0);
    moveToBack(m, 0);
    expect(oldestKey(m)).toBe(1);
    expect([...m.keys()]).toEqual([1, 2, 0]);
    moveToBack(m, 1);
    moveToBack(m, 2);
    expect(oldestKey(m)).toBe(0);
    moveToBack(m, 9); // not there: nothing happens
    expect([...m.entries()]).toEqual([[0, 'a'], [1, 'b'], [2, 'c']]);
  });

  it('keeps a full table evicting its oldest in step with a plain walk', () => {
    const m = new Map<number, number>();
    for (let i = 0; i < 50_000; i++) {
      m.set(i, i);
      if (m.size > 1000) m.delete(oldestKey(m) as number);
    }
    expect(m.size).toBe(1000);
    expect(oldestKey(m)).toBe(49_000);
    expect([...m.keys()][0]).toBe(49_000);
  });
});

describe('oldestIdle', () => {
  it('passes over values marked used (clearing the mark, to the back) and the one to keep; undefined for an empty map', () => {
    const m = new Map<string, { used?: boolean }>([['a', { used: true }], ['b', {}], ['c', { used: true }]]);
    const keep = m.get('b') as { used?: boolean };
    // a, b (kept) and c are passed over once each; a's mark is gone when its turn comes again
    expect(oldestIdle(m, keep)).toBe('a');
    expect([...m.keys()]).toEqual(['a', 'b', 'c']);
    expect([...m.values()].map((v) => v.used)).toEqual([false, false, false]);
    (m.get('a') as { used?: boolean }).used = true;
    expect(oldestIdle(m, keep)).toBe('c');
    expect([...m.keys()]).toEqual(['c', 'a', 'b']);
    expect(oldestIdle(new Map(), {})).toBeUndefined();
  });
});

describe('open handles of a session are bounded', () => {
  const session = (): Session => new SessionTable().get('10.0.0.2', '0x0000000000000001');
  const handle = (s: Session, path: string): OpenFile => ({ path, tree: { id: 1, hexId: '0x00000001', share: null, shareType: null, used: false }, session: s, conn: { clientIp: 'c', clientPort: 1, serverIp: 's', serverPort: 445, dialect: null }, read: null, write: null, closed: false });

  it('names beyond MAX_NAME_CHARS keep their start and end (the extension the rules read), saying how long they were', () => {
    expect(filePath('\\\\dir\\a.txt')).toBe('dir\\a.txt');
    const p = filePath(`\\${'abcdefghi\\'.repeat(500)}evil.exe`);
    expect(p.length).toBeLessThan(MAX_NAME_CHARS + 40);
    expect(p).toContain('…[cut: 5008 characters]…');
    expect(p.startsWith('abcdefghi\\')).toBe(true);
    expect(p.endsWith('\\evil.exe')).toBe(true);
  });

  it('the oldest handles are let go once their paths pass MAX_PATH_CHARS_PER_SESSION; closes give their share back', () => {
    const s = session();
    const long = 'x'.repeat(MAX_NAME_CHARS);
    const evicted: OpenFile[] = [];
    for (let i = 0; i < 300; i++) evicted.push(...openFile(s, `id${i}`, handle(s, `${i}${long}`.slice(0, MAX_NAME_CHARS))));
    // an evicted id given again is new: the next to go is the oldest still open
    const oldestOpen = [...s.files.values()][0];
    const again = openFile(s, 'id0', handle(s, 'short'));
    expect(again).toEqual([oldestOpen]);
    expect(s.files.get('id0')?.path).toBe('short');
    evicted.push(...again);
    expect(s.pathChars).toBeLessThanOrEqual(MAX_PATH_CHARS_PER_SESSION);
    expect(s.files.size + evicted.length).toBe(301);
    expect(evicted[0].path?.startsWith('0x')).toBe(true);
    expect([...s.files.keys()].at(-1)).toBe('id0');
    for (const k of [...s.files.keys()]) closeFile(s, k);
    expect(s.pathChars).toBe(0);
    // an id given again without a CLOSE replaces the first handle (returned, to report) and its share
    openFile(s, 'a', handle(s, 'one'));
    expect(openFile(s, 'a', handle(s, 'three')).map((f) => f.path)).toEqual(['one']);
    expect(s.pathChars).toBe(5);
  });
});
