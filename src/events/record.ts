/** An event with the numeric time it sorts by (the ISO string alone would mix precisions). */
import type { SmbEvent } from './event';
import type { Stamp } from './state';

/** `seq` is the order in which the requests were seen: it keeps one frame's messages in wire order */
export interface EventRecord { sec: number; ns: number; seq: number; ev: SmbEvent }

export type EventSink = (r: EventRecord) => void;

/** ISO 8601 UTC with as many fraction digits as the capture recorded */
export function isoTime(s: Stamp): string {
  const base = new Date(s.sec * 1000).toISOString().slice(0, 19);
  if (s.digits <= 0) return `${base}Z`;
  const frac = String(s.ns).padStart(9, '0').slice(0, Math.min(9, s.digits));
  return `${base}.${frac}Z`;
}

/** Output order: time, then capture, then frame; wire order breaks the last ties. */
export function compareRecords(a: EventRecord, b: EventRecord): number {
  return a.sec - b.sec || a.ns - b.ns
    || (a.ev.capture < b.ev.capture ? -1 : a.ev.capture > b.ev.capture ? 1 : 0)
    || a.ev.frame - b.ev.frame
    || a.seq - b.seq;
}
