/** The output stage: events → table, CSV or JSON lines, with wire strings made safe. */
export { createEventWriter, formatLine, EventWriter, OutputFormat, OUTPUT_FORMATS, FLUSH_CHARS } from './writer';
export { renderTable, TableOptions, DEFAULT_COLUMNS, NO_EVENTS, TABLE_HEAD } from './table';
export { toCsvRow, CSV_HEADER, CSV_EOL } from './csv';
export { toJsonLine } from './jsonl';
export { forTerminal, forCsvCell } from './sanitize';
