/**
 * The oldest key of a Map (insertion order), found in constant time on average.
 *
 * `map.keys().next()` walks from the start of V8's table over the slots of every entry deleted
 * since the last rehash: a table kept full by evicting its oldest entry made each eviction
 * linear (1,000,000 CREATEs without CLOSE took 45 s). A cursor kept per map moves forward only.
 * The entry it stands on counts only while the key still maps to the same value: a key deleted
 * and set again (a reused message or file id) is new, and found again at its new place.
 */
interface Cursor<K, V> { it: Iterator<[K, V]>; key: K | undefined; value: V | undefined; has: boolean }

const cursors = new WeakMap<Map<unknown, unknown>, Cursor<unknown, unknown>>();

export function oldestKey<K, V>(m: Map<K, V>): K | undefined {
  let c = cursors.get(m as Map<unknown, unknown>) as Cursor<K, V> | undefined;
  if (c === undefined) {
    c = { it: m.entries(), key: undefined, value: undefined, has: false };
    cursors.set(m as Map<unknown, unknown>, c as Cursor<unknown, unknown>);
  }
  let restarted = false;
  for (;;) {
    if (c.has && m.get(c.key as K) === c.value && m.has(c.key as K)) return c.key;
    const r = c.it.next();
    if (!r.done) { [c.key, c.value] = r.value; c.has = true; continue; }
    // past the end: entries set since then need a fresh cursor (a finished iterator stays finished)
    c.has = false;
    if (restarted || m.size === 0) return undefined;
    c.it = m.entries();
    restarted = true;
  }
}

/**
 * Moves an entry to the back of the insertion order (a second chance). The cursor is moved past
 * it: the same value set again under the same key would otherwise still look like the oldest.
 */
export function moveToBack<K, V>(m: Map<K, V>, key: K): void {
  if (!m.has(key)) return;
  const v = m.get(key) as V;
  m.delete(key);
  m.set(key, v);
  const c = cursors.get(m as Map<unknown, unknown>);
  if (c !== undefined && c.has && c.key === key) c.has = false;
}

/**
 * The oldest key whose value was not `used` since it was last passed over, never `keep`'s: a value
 * marked used gets a second chance (mark cleared, moved to the back). Each pass clears one mark or
 * passes `keep` once, so with another entry than `keep` the search ends within one turn of the map.
 */
export function oldestIdle<K, V extends { used?: boolean }>(m: Map<K, V>, keep: V): K | undefined {
  for (;;) {
    const k = oldestKey(m);
    if (k === undefined) return undefined;
    const v = m.get(k) as V;
    if (!v.used && v !== keep) return k;
    v.used = false;
    moveToBack(m, k);
  }
}
