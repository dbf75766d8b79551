/** An event with the numeric time it sorts by (the ISO string alone would mix precisions). */
import type { SmbEvent } from './event';
import type { Stamp } from './state';

/** What ordering needs of an event: a full SmbEvent, or one already formatted for the output. */
export interface SortKey { capture: string; frame: number }

/** `seq` is the order in which the requests were seen: it keeps one frame's messages in wire order */
export interface EventRecord<E extends SortKey = SmbEvent> { sec: number; ns: number; seq: number; ev: E }

export type EventSink = (r: EventRecord) => void;

/** ISO 8601 UTC with as many fraction digits as the capture recorded */
export function isoTime(s: Stamp): string {
  // a capture has thousands of events per second: the date part is made once per second
  if (s.sec !== lastSec) {
    lastSec = s.sec;
    lastCivil = civil(s.sec);
  }
  const base = lastCivil;
  if (s.digits <= 0) return `${base}Z`;
  const frac = String(s.ns).padStart(9, '0').slice(0, Math.min(9, s.digits));
  return `${base}.${frac}Z`;
}

let lastSec = NaN;
let lastCivil = '';

/**
 * Output order: time, then capture, then frame; wire order breaks the last ties. The keyed runs
 * (sorter.ts) implement it with numbers only; the tests check them against this definition.
 */
export function compareRecords(a: EventRecord<SortKey>, b: EventRecord<SortKey>): number {
  return a.sec - b.sec || a.ns - b.ns
    || (a.ev.capture < b.ev.capture ? -1 : a.ev.capture > b.ev.capture ? 1 : 0)
    || a.ev.frame - b.ev.frame
    || a.seq - b.seq;
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/**
 * Seconds since the epoch → "YYYY-MM-DDTHH:MM:SS" for any integer (pcapng allows 64-bit
 * timestamps far beyond what Date accepts; hostile files use them). Days → civil date after
 * Howard Hinnant's algorithm; years beyond 9999 get the ISO 8601 expanded "+" form.
 */
export function civil(sec: number): string {
  const s = Math.floor(sec);
  const days = Math.floor(s / 86400);
  const rem = s - days * 86400;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const year = y >= 0 && y <= 9999 ? pad(y, 4) : `${y < 0 ? '-' : '+'}${pad(Math.abs(y), 6)}`;
  return `${year}-${pad(m, 2)}-${pad(d, 2)}T${pad(Math.floor(rem / 3600), 2)}:${pad(Math.floor(rem / 60) % 60, 2)}:${pad(rem % 60, 2)}`;
}
