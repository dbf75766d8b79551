/** Compares what the scanner reports with a tshark-derived truth file (the conformance rules). */
import * as fs from 'fs';
import * as path from 'path';
import type { SmbEvent } from '../../src/events/event';
import type { EventRecord } from '../../src/events/record';
import { applyFlagRules } from '../../src/detect/rules';
import { scanCapture, CaptureSummary } from '../../src/scan/scan-capture';

export const SHARED_CORPUS = path.resolve(__dirname, '../../../shared/corpus');
export const CAPTURES = path.resolve(__dirname, '../../captures');

export function truthFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.truth.json')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

interface Truth {
  tree_connects?: { frame?: number | null; path?: string; proto: string }[];
  creates?: { frame?: number | null; filename?: string; proto: string }[];
  users?: { username?: string; domain?: string; over_smb?: boolean }[];
  encryption?: { transform_header_messages?: number };
}

export function readTruth(file: string): Truth {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Truth;
}

export const hasSmb1 = (t: Truth): boolean =>
  [...(t.tree_connects ?? []), ...(t.creates ?? [])].some((x) => x.proto === 'smb1');

export async function scanEvents(capture: string): Promise<{ events: SmbEvent[]; summary: CaptureSummary }> {
  const recs: EventRecord[] = [];
  const summary = await scanCapture(capture, capture, (r) => { applyFlagRules(r.ev); recs.push(r); });
  return { events: recs.map((r) => r.ev), summary };
}

const key = (frame: number | null | undefined, v: string): string => `${frame ?? '*'}\t${v}`;
/** tshark prints control characters in names as \xN (no padding); our JSON keeps the character */
export const asTshark = (s: string): string => s.replace(/[\x00-\x1f]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
const sorted = (xs: string[]): string[] => [...xs].sort();

/** multisets of "frame<TAB>value" for truth and for our events, ready for toEqual */
export function compare(truth: Truth, events: SmbEvent[]) {
  const frameless = (xs: { frame?: number | null }[]) => xs.some((x) => x.frame == null);
  const tc = truth.tree_connects ?? [], cr = truth.creates ?? [];
  const ourTree = events.filter((e) => e.action === 'tree_connect');
  const ourCreate = events.filter((e) => e.action === 'create');
  return {
    tree: {
      truth: sorted(tc.map((t) => key(t.frame, t.path ?? ''))),
      ours: sorted(ourTree.map((e) => key(frameless(tc) ? undefined : e.frame, e.share ?? ''))),
    },
    create: {
      truth: sorted(cr.map((c) => key(c.frame, (c.filename ?? '').replace(/^\\+/, '')))),
      ours: sorted(ourCreate.map((e) => key(frameless(cr) ? undefined : e.frame, asTshark(e.path ?? '')))),
    },
    users: {
      truth: sorted([...new Set((truth.users ?? []).filter((u) => u.username && u.over_smb !== false)
        .map((u) => `${(u.domain ?? '').toLowerCase()}\\${(u.username ?? '').toLowerCase()}`))]),
      ours: sorted([...new Set(events.filter((e) => e.user)
        .map((e) => `${(e.domain ?? '').toLowerCase()}\\${(e.user ?? '').toLowerCase()}`))]),
    },
  };
}
