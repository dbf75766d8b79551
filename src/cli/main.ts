#!/usr/bin/env node
/**
 * smbtrail command line: inputs → scan → sorted events → table / CSV / JSON lines, with a
 * summary on stderr. Exit status: 0 processed, 1 some input unreadable, 2 usage error.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { Action, Severity } from '../events/event';
import { OUTPUT_FORMATS, OutputFormat } from '../output';
import { defaultJobs } from '../scan/jobs';

const MAX_JOBS = Math.max(4, 4 * defaultJobs());
import { OutputError, runScan, UsageError } from './run-scan';
import { forTerminal } from '../output/sanitize';
import { loadRulesConfig, RulesConfig, RulesConfigError } from '../detect/config';

const ACTIONS: Action[] = ['session_setup', 'tree_connect', 'create', 'read', 'write', 'rename', 'delete', 'encrypted', 'rpc', 'story'];
const SEVERITIES: Severity[] = ['info', 'low', 'medium', 'high'];

function parseActions(given: string | string[] | undefined): Set<string> | null {
  const raw = given === undefined ? [] : [given].flat();
  if (raw.length === 0) return null;
  const out = new Set<string>();
  for (const part of raw.flatMap((r) => String(r).split(','))) {
    const a = part.trim();
    if (!a) continue;
    if (!ACTIONS.includes(a as Action)) throw new UsageError(`unknown action "${a}" (choose from ${ACTIONS.join(', ')})`);
    out.add(a);
  }
  return out;
}

/** --rules-config: a mistake in it is a usage error naming the file and the key */
function loadRules(file: string | undefined): RulesConfig | null {
  if (file === undefined) return null;
  try {
    return loadRulesConfig(file);
  } catch (e) {
    if (e instanceof RulesConfigError) throw new UsageError(e.message);
    throw e;
  }
}

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** long options of the scan command (yargs spells camelCase too, users do not) */
const LONG_OPTIONS = new Set(['format', 'output', 'min-severity', 'action', 'quiet', 'jobs', 'stitch', 'progress',
  'per-file', 'color', 'stories', 'rules-config', 'help', 'version']);
/** one-letter options, which may be grouped (`-qf csv`) */
const SHORT_OPTIONS = new Set(['f', 'o', 'q', 'j', 'h']);

/** an option given twice takes its last value, as in most command-line tools */
const last = <T>(v: T | T[]): T => (Array.isArray(v) ? v[v.length - 1] : v);

/** yargs' own messages for a missing value or a value outside the choices, in our words */
function usageText(msg: string): string {
  const missing = /Not enough arguments following: (\S+)/.exec(msg);
  if (missing) return `${missing[1].length === 1 ? '-' : '--'}${missing[1]} needs a value`;
  const choice = /Invalid values:\s*Argument: (\S+), Given: "([^"]*)", Choices: (.*)/.exec(msg);
  if (choice) return `--${choice[1]} must be one of ${choice[3].replace(/"/g, '')} (not "${choice[2]}")`;
  return msg;
}

/**
 * A misspelt option (`--stores FILE`) would take the next word as its value, and yargs would
 * then complain about a missing capture instead: name the option itself.
 */
function unknownOption(argv: string[]): string | null {
  for (const a of argv) {
    if (a === '--') break;
    // `-weird-name.pcap`: yargs would read it as -w -e -i -r -d … and list the letters
    if (/^-[^-\d]/.test(a) && a.length > 2 && ![...a.slice(1)].every((c) => SHORT_OPTIONS.has(c))) return a;
    if (!a.startsWith('--')) continue;
    const name = a.slice(2).split('=')[0];
    if (!LONG_OPTIONS.has(name) && !LONG_OPTIONS.has(name.replace(/^no-/, ''))) return a.split('=')[0];
  }
  return null;
}

/** on/off options: `--color=maybe` or `--stitch=2` was taken as on, in silence (found by a new-user trial) */
const SWITCHES = new Set(['quiet', 'stitch', 'progress', 'per-file', 'color', 'stories']);

/** `--switch=VALUE` with a value other than true or false, if any */
function badSwitchValue(argv: string[]): string | null {
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--(?:no-)?([a-z-]+)=(.*)$/s.exec(a);
    if (m && SWITCHES.has(m[1]) && m[2] !== 'true' && m[2] !== 'false') return a;
  }
  return null;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  let usage = false;
  const unknown = unknownOption(argv);
  if (unknown !== null) {
    const dash = !unknown.startsWith('--') ? ` (a file whose name starts with -: put -- before it, as in smbtrail -- ${forTerminal(unknown)})` : '';
    process.stderr.write(`smbtrail: unknown option ${forTerminal(unknown)}${dash}\nTry 'smbtrail --help'.\n`);
    return 2;
  }
  const badSwitch = badSwitchValue(argv);
  if (badSwitch !== null) {
    const name = badSwitch.split('=')[0];
    process.stderr.write(`smbtrail: ${forTerminal(name)} is on or off: give it alone, as ${forTerminal(name)}=true or =false, or as --no-${forTerminal(name.replace(/^--(no-)?/, ''))} (not "${forTerminal(badSwitch.slice(name.length + 1))}")\nTry 'smbtrail --help'.\n`);
    return 2;
  }
  // after "--" every word is an input, even one that starts with "-" (a file named -rf.pcap);
  // yargs would not count them as the command's inputs, so they are added in the handler
  const dashes = argv.indexOf('--');
  const literal = dashes < 0 ? [] : argv.slice(dashes + 1);
  const parser = yargs(dashes < 0 ? argv : argv.slice(0, dashes))
    .scriptName('smbtrail')
    .usage('$0 [scan] <capture or directory...> [options]\n\n' +
      'Reads pcap/pcapng captures (also compressed: gzip, and zstd/xz/bzip2/lz4 through their\n' +
      'commands; directories are walked recursively, files recognised by content) and writes one event\n' +
      'per SMB action: who connected to which share, opened/read/wrote/renamed/deleted which file,\n' +
      'when, from where and as which user, and each DCE/RPC call on a named pipe (service creation,\n' +
      'scheduled tasks, registry, discovery) with its arguments. Detection rules map them to MITRE\n' +
      'ATT&CK, and chains such as admin-share write → service creation → PsExec pipes become one\n' +
      '"story" per target host that says what happened.')
    .command(['scan [inputs..]', '$0 [inputs..]'], 'scan captures and print the SMB timeline (the default command)', (y) => y
      .positional('inputs', { type: 'string', array: true, describe: 'capture files and/or directories (after --, every word is one, even if it starts with -)' })
      .option('format', { alias: 'f', choices: OUTPUT_FORMATS as unknown as string[], default: 'table', requiresArg: true, coerce: last, describe: 'table for the terminal, csv for spreadsheets/timeline tools, jsonl for machines' })
      .option('output', { alias: 'o', type: 'string', requiresArg: true, coerce: last, describe: 'write events to FILE instead of stdout (the summary stays on stderr)' })
      .option('min-severity', { choices: SEVERITIES, default: 'info', requiresArg: true, coerce: last, describe: 'only events at or above this severity' })
      // not an array option: yargs lets one swallow every word after it, the inputs included
      // (`--action create x.pcap` scanned nothing: found by a new-user trial); repeated, it adds up
      .option('action', { type: 'string', requiresArg: true, describe: `only these actions (comma-separated or repeated): ${ACTIONS.join(', ')}` })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no summary on stderr' })
      .option('jobs', { alias: 'j', type: 'number', default: defaultJobs(), requiresArg: true, coerce: last, describe: `capture files scanned in parallel (worker threads; default: the number of cores, at most ${MAX_JOBS}: 4 per core); the output is the same for any value` })
      .option('stitch', { type: 'boolean', default: false, describe: 'the inputs are one sensor\'s rotated files (tcpdump -C/-G, dumpcap ring buffer): scan them in time order as one stream, so sessions and TCP streams continue across files' })
      .option('progress', { type: 'boolean', describe: 'progress bar on stderr (default: when stderr is a terminal and not --quiet)' })
      .option('per-file', { type: 'boolean', default: false, describe: 'one summary line per capture file on stderr' })
      .option('color', { type: 'boolean', describe: 'colour the table by severity (default: when stdout is a terminal and NO_COLOR is unset)' })
      .option('stories', { type: 'boolean', default: false, describe: 'print only the stories: one line per lateral-movement chain (PsExec, impacket psexec/smbexec/atexec, services, tasks, DCSync), the first thing to read' })
      .option('rules-config', { type: 'string', requiresArg: true, coerce: last, describe: 'YAML or JSON file tuning the detection rules: per-rule enabled/severity, allow-lists by user, client/server address or CIDR, server name, share, path (see README)' })
      .example('$0 captures/', 'table of every SMB event in every capture under captures/')
      .example('$0 scan incident.pcapng.gz -f csv -o timeline.csv', 'CSV timeline for a spreadsheet')
      .example('$0 dir/ -f jsonl --min-severity medium', 'only admin-share and higher events, as JSON lines')
      .example('$0 dir/ --stories', 'what happened: one line per lateral-movement chain, with the frames of each step')
      .example('$0 dir/ --action rpc -f csv', 'every DCE/RPC call on a named pipe, with its decoded arguments')
      .example('$0 dir/ --rules-config tuning.yaml', 'the same with known admin hosts and accounts allow-listed')
      .epilog('Exit status: 0 all inputs read (anomalies are counted in the summary, not fatal); ' +
        '1 some input could not be read (each named on stderr; the others are still processed); 2 usage error.'),
    async (a) => {
      try {
        const inputs = [...((a.inputs as string[] | undefined) ?? []), ...literal];
        // yargs drops a lone "-": say what it would have meant rather than scanning nothing
        if (inputs.length === 0) throw new UsageError('no capture file or directory given (reading a capture from standard input is not supported)');
        if (a.output === '') throw new UsageError('-o needs a file name');
        if (a['rules-config'] === '') throw new UsageError('--rules-config needs a file name');
        const jobs = a.jobs as number;
        if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError('--jobs must be a whole number ≥ 1');
        // each worker holds its own heap (~15-30 MB): more than a few per core only costs memory
        if (jobs > MAX_JOBS) throw new UsageError(`--jobs must be at most ${MAX_JOBS} (4 per core here)`);
        const actions = parseActions(a.action as string | string[] | undefined);
        // --stories prints the stories and nothing else: an --action beside it would be ignored
        // in silence ("no SMB events", exit 0: found by a new-user trial)
        if (a.stories && actions !== null) throw new UsageError('--stories prints only the stories; leave out --action (or use --action story without --stories)');
        code = await runScan({
          inputs, format: a.format as OutputFormat, output: a.output as string | undefined,
          minSeverity: a['min-severity'] as Severity, actions: actions ? [...actions] : null,
          quiet: a.quiet, color: a.color, jobs, stitch: a.stitch, progress: a.progress, perFile: a['per-file'],
          stories: a.stories, rules: loadRules(a['rules-config'] as string | undefined),
        });
      } catch (e) {
        if (e instanceof UsageError) { process.stderr.write(`smbtrail: ${forTerminal(e.message)}\nTry 'smbtrail --help'.\n`); code = 2; usage = true; }
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
      // one line: yargs spreads "Invalid values" over three
      throw err && !(err instanceof UsageError) && !msg ? err : new UsageError(usageText((msg || oneLine(err)).replace(/\s*\n\s*/g, ' ')));
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`smbtrail: ${forTerminal(e.message)}\nTry 'smbtrail --help'.\n`);
    return 2;
  }
  return usage ? 2 : code;
}

if (require.main === module) {
  main(hideBin(process.argv)).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => {
      if (e instanceof OutputError) {
        process.stderr.write(`smbtrail: ${forTerminal(e.message)}\n`);
        process.exitCode = 1;
        return;
      }
      process.stderr.write(`smbtrail: internal error: ${forTerminal(oneLine(e))}\n`);
      if (process.env.SMBTRAIL_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
      process.exitCode = 1;
    },
  );
}
