import { EVENT_FIELDS, eventValues, SmbEvent } from '../events/event';
import { forCsvCell } from './sanitize';

/**
 * CSV with the columns of EVENT_FIELDS. Lines end with LF, not RFC 4180's CRLF: every CSV
 * reader in use (Excel, LibreOffice, pandas, Python csv, xsv, Timeline Explorer) accepts LF, and
 * LF keeps the file friendly to grep/cut/diff. No byte-order mark.
 *
 * Null and "" both give an empty cell (e.g. `path` "" is the share root, null means the CREATE
 * was not about a file); JSON lines keep the difference.
 */
export const CSV_EOL = '\n';

/** The header record, without line end. */
export const CSV_HEADER = EVENT_FIELDS.join(',');

type FieldValue = SmbEvent[keyof SmbEvent] | undefined;

function csvCell(value: FieldValue): string {
  if (value === null || value === undefined) return '';
  // Numbers are ours (frame, ports, byte counts), never negative: no formula risk.
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  // List items are names we chose; the joined cell still gets the formula/quote treatment.
  if (Array.isArray(value)) return forCsvCell(value.join('|'));
  // rpc_args: name=value pairs in the decoder's order, '; ' between them
  if (typeof value === 'object') return forCsvCell(Object.entries(value).map(([k, v]) => `${k}=${v}`).join('; '));
  return forCsvCell(value);
}

/** One event as one CSV record, without line end. Always a single physical line. */
export function toCsvRow(e: SmbEvent): string {
  eventValues(e, values);
  for (let i = 0; i < values.length; i++) cells[i] = csvCell(values[i] as FieldValue);
  return cells.join(',');
}

const values: unknown[] = new Array<unknown>(EVENT_FIELDS.length).fill(null);
const cells: string[] = new Array<string>(EVENT_FIELDS.length).fill('');
