/**
 * Names made distinct: the first of several alike keeps its name, the later ones get ` [n]` with
 * the smallest n that no other name already is (a file may be named `x.pcap [2]`). Used for the
 * capture labels every event names and for the table's shorter capture names.
 */
export function numberAlike(names: readonly string[]): string[] {
  const taken = new Set(names);
  const given = new Set<string>();
  return names.map((name) => {
    if (!given.has(name)) { given.add(name); return name; }
    let n = 2;
    while (taken.has(`${name} [${n}]`)) n++;
    taken.add(`${name} [${n}]`);
    return `${name} [${n}]`;
  });
}
