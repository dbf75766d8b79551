#!/usr/bin/env node
/**
 * smbtrail command line: inputs → scan → sorted events → table / CSV / JSON lines, with a
 * summary on stderr. Exit status: 0 processed, 1 some input unreadable, 2 usage error.
 */
import * as fs from 'fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CaptureError } from '../capture/packet';
import type { Action, Severity, SmbEvent } from '../events/event';
import { compareRecords, EventRecord } from '../events/record';
import { applyFlagRules, SEVERITY_RANK } from '../detect/rules';
import { createEventWriter, OUTPUT_FORMATS, OutputFormat } from '../output';
import { scanCapture } from '../scan/scan-capture';
import { expandInputs } from './inputs';
import { addCapture, addEvent, formatSummary, newTotals } from './summary';

const ACTIONS: Action[] = ['session_setup', 'tree_connect', 'create', 'read', 'write', 'rename', 'delete', 'encrypted'];
const SEVERITIES: Severity[] = ['info', 'low', 'medium', 'high'];

interface ScanArgs {
  inputs: string[];
  format: OutputFormat;
  output?: string;
  minSeverity: Severity;
  action?: string[];
  quiet: boolean;
  color?: boolean;
}

function parseActions(raw: string[] | undefined): Set<string> | null {
  if (!raw || raw.length === 0) return null;
  const out = new Set<string>();
  for (const part of raw.flatMap((r) => String(r).split(','))) {
    const a = part.trim();
    if (!a) continue;
    if (!ACTIONS.includes(a as Action)) throw new UsageError(`unknown action "${a}" (choose from ${ACTIONS.join(', ')})`);
    out.add(a);
  }
  return out;
}

class UsageError extends Error {}

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];

async function runScan(args: ScanArgs): Promise<number> {
  const started = process.hrtime.bigint();
  const actions = parseActions(args.action);
  const minRank = SEVERITY_RANK[args.minSeverity];
  const totals = newTotals();
  const records: EventRecord[] = [];
  const keep = (r: EventRecord): void => {
    applyFlagRules(r.ev);
    if (SEVERITY_RANK[r.ev.severity] < minRank) return;
    if (actions && !actions.has(r.ev.action)) return;
    records.push(r);
  };

  const expanded = await expandInputs(args.inputs);
  totals.skippedFiles = expanded.skipped;
  let failed = expanded.errors.length;
  for (const msg of expanded.errors) process.stderr.write(`smbtrail: ${msg}\n`);
  for (const f of expanded.files) {
    try {
      addCapture(totals, await scanCapture(f.path, f.label, keep));
    } catch (e) {
      failed++;
      if (e instanceof CaptureError) process.stderr.write(`smbtrail: ${f.label}: ${oneLine(e)}\n`);
      else {
        process.stderr.write(`smbtrail: ${f.label}: internal error, capture abandoned: ${oneLine(e)} (please report this file)\n`);
        if (process.env.SMBTRAIL_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
      }
    }
  }
  totals.failed = failed;

  records.sort(compareRecords);
  const out = args.output ? fs.createWriteStream(args.output) : process.stdout;
  const tty = !args.output && process.stdout.isTTY === true;
  const color = args.color ?? (tty && !process.env.NO_COLOR);
  const writer = createEventWriter(args.format, out, { color, columns: tty ? process.stdout.columns || 120 : 120 });
  for (const r of records) {
    addEvent(totals, r.ev);
    if (!writer.write(r.ev)) await writer.drained();
    if (writer.closed) break;
  }
  await writer.end();
  if (args.output) await new Promise<void>((res, rej) => (out as fs.WriteStream).end((err?: Error | null) => (err ? rej(err) : res())));

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!args.quiet) process.stderr.write(`${formatSummary(totals, seconds)}\n`);
  return failed > 0 ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  let usage = false;
  const parser = yargs(argv)
    .scriptName('smbtrail')
    .usage('$0 [scan] <capture or directory...> [options]\n\n' +
      'Reads pcap/pcapng captures (gzip too; directories are walked recursively) and writes one event\n' +
      'per SMB action: who connected to which share, opened/read/wrote/renamed/deleted which file,\n' +
      'when, from where and as which user. Admin shares, drive shares, PsExec and executable\n' +
      'writes are flagged and mapped to MITRE ATT&CK.')
    .command(['scan <inputs..>', '$0 <inputs..>'], 'scan captures and print the SMB timeline (the default command)', (y) => y
      .positional('inputs', { type: 'string', array: true, describe: 'capture files and/or directories', demandOption: true })
      .option('format', { alias: 'f', choices: OUTPUT_FORMATS as unknown as string[], default: 'table', describe: 'table for the terminal, csv for spreadsheets/timeline tools, jsonl for machines' })
      .option('output', { alias: 'o', type: 'string', describe: 'write events to FILE instead of stdout (the summary stays on stderr)' })
      .option('min-severity', { choices: SEVERITIES, default: 'info', describe: 'only events at or above this severity' })
      .option('action', { type: 'string', array: true, describe: `only these actions (comma-separated or repeated): ${ACTIONS.join(', ')}` })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no summary on stderr' })
      .option('color', { type: 'boolean', describe: 'colour the table by severity (default: when stdout is a terminal and NO_COLOR is unset)' })
      .example('$0 captures/', 'table of every SMB event in every capture under captures/')
      .example('$0 scan incident.pcapng.gz -f csv -o timeline.csv', 'CSV timeline for a spreadsheet')
      .example('$0 dir/ -f jsonl --min-severity medium', 'only admin-share and higher events, as JSON lines')
      .epilog('Exit status: 0 all inputs read (anomalies are counted in the summary, not fatal); ' +
        '1 some input could not be read (each named on stderr; the others are still processed); 2 usage error.'),
    async (a) => {
      try {
        code = await runScan({
          inputs: a.inputs as string[], format: a.format as OutputFormat, output: a.output,
          minSeverity: a['min-severity'] as Severity, action: a.action as string[] | undefined,
          quiet: a.quiet, color: a.color,
        });
      } catch (e) {
        if (e instanceof UsageError) { process.stderr.write(`smbtrail: ${e.message}\n`); code = 2; usage = true; }
        else throw e;
      }
    })
    .strict()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // yargs would go on to run the command: stop here with a usage error instead
      throw err && !(err instanceof UsageError) && !msg ? err : new UsageError(msg || oneLine(err));
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`smbtrail: ${e.message}\nTry 'smbtrail --help'.\n`);
    return 2;
  }
  return usage ? 2 : code;
}

if (require.main === module) {
  main(hideBin(process.argv)).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => {
      process.stderr.write(`smbtrail: internal error: ${oneLine(e)}\n`);
      if (process.env.SMBTRAIL_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
      process.exitCode = 1;
    },
  );
}
