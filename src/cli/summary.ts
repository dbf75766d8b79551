/** The end-of-run summary written to stderr: what was read, what was found, what went wrong. */
import { MAX_STEP_BYTES, MAX_STEP_BYTES_TOTAL, MAX_STEPS, MAX_STEPS_TOTAL, Tally } from '../scan/jobs';
import type { CaptureSummary } from '../scan/scan-capture';
import { governorBytes } from '../scan/lanes';

export interface RunTotals {
  captures: number;
  failed: number;
  skippedFiles: number;
  packets: number;
  bytes: number;
  tcpFlows: number;
  smbConnections: number;
  smbMessages: number;
  events: number;
  /** events before --min-severity/--action */
  found: number;
  byAction: Record<string, number>;
  byFlag: Record<string, number>;
  anomalies: Record<string, number>;
  encryptedSessions: number;
  /** detection rule hits over every event found (before --min-severity/--action) */
  byRule: Record<string, number>;
  /** story kinds found */
  stories: Record<string, number>;
  stepsDropped: number;
  allowed: number;
  /** files the memory governor stopped and scanned again alone (src/scan/lanes.ts) */
  rescanned: number;
  /** events whose TREE_CONNECT or RPC bind came before the capture (Tally.unseenSetup) */
  unseenSetup: number;
  /** --stitch: the inputs were read as one stream */
  stitched: boolean;
}

export function newTotals(): RunTotals {
  return {
    captures: 0, failed: 0, skippedFiles: 0, packets: 0, bytes: 0, tcpFlows: 0, smbConnections: 0,
    smbMessages: 0, events: 0, found: 0, byAction: {}, byFlag: {}, anomalies: {}, encryptedSessions: 0,
    byRule: {}, stories: {}, stepsDropped: 0, allowed: 0, rescanned: 0, unseenSetup: 0, stitched: false,
  };
}

const bump = (m: Record<string, number>, k: string, n = 1): void => { m[k] = (m[k] ?? 0) + n; };

export function addCapture(t: RunTotals, s: CaptureSummary): void {
  t.captures++;
  t.packets += s.packets;
  t.bytes += s.bytes;
  t.tcpFlows += s.tcpFlows;
  t.smbConnections += s.smbConnections;
  t.smbMessages += s.smbMessages;
  for (const [k, v] of Object.entries(s.anomalies)) bump(t.anomalies, k, v);
}

/** the events one file contributed (counted where they were made, in the worker) */
export function addTally(t: RunTotals, x: Tally): void {
  t.events += x.events;
  t.found += x.found;
  for (const [k, v] of Object.entries(x.byAction)) bump(t.byAction, k, v);
  for (const [k, v] of Object.entries(x.byFlag)) bump(t.byFlag, k, v);
  t.encryptedSessions += x.encrypted;
  t.stepsDropped += x.stepsDropped;
  for (const [k, v] of Object.entries(x.byRule)) bump(t.byRule, k, v);
  t.allowed += x.allowed;
  t.unseenSetup += x.unseenSetup;
}

export function addStories(t: RunTotals, stories: readonly { rules: string[] }[]): void {
  for (const s of stories) bump(t.stories, s.rules[0] ?? 'story');
}

const list = (m: Record<string, number>): string =>
  Object.keys(m).length ? Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(' ') : 'none';

export function formatSummary(t: RunTotals, seconds: number): string {
  const mb = t.bytes / 1e6;
  const lines = [
    `smbtrail: ${t.captures} capture(s) read${t.failed ? `, ${t.failed} could not be read` : ''}` +
      `${t.skippedFiles ? `, ${t.skippedFiles} non-capture file(s) skipped` : ''}`,
    `  packets ${t.packets}, ${mb.toFixed(1)} MB, TCP flows ${t.tcpFlows}, SMB connections ${t.smbConnections}, SMB messages ${t.smbMessages}`,
    `  events ${t.events}${t.found > t.events ? ` (of ${t.found} found; the others are below --min-severity or not in --action)` : ''}: ${list(t.byAction)}`,
    `  flags: ${list(t.byFlag)}`,
    `  rules: ${list(t.byRule)}${t.allowed ? ` (${t.allowed} more removed by --rules-config allow-lists)` : ''}`,
    `  stories: ${list(t.stories)}`,
    `  anomalies: ${list(t.anomalies)}`,
  ];
  if (t.stepsDropped) {
    lines.push(`  note: ${t.stepsDropped} rule hit(s) beyond ${MAX_STEPS} (or ${MAX_STEP_BYTES >> 20} MiB) per file or ${MAX_STEPS_TOTAL} (${MAX_STEP_BYTES_TOTAL >> 20} MiB) in all were not used for stories (they are still in the timeline)`);
  }
  if (t.rescanned) {
    lines.push(`  note: ${t.rescanned} file(s) were stopped while two or more were scanned at once (memory past ${governorBytes() / 2 ** 20} MiB) and scanned again alone; the output is the same, the time longer`);
  }
  if (t.unseenSetup) {
    // rotated files scanned one by one look like this from the second on (found by a new-user trial)
    lines.push(`  note: ${t.unseenSetup} event(s) have no share or RPC interface: their TREE_CONNECT or bind is not in the capture (made before it started, or not captured)${t.captures > 1 && !t.stitched ? '; if the inputs are rotated parts of one capture, --stitch reads them as one stream' : ''}`);
  }
  if (t.encryptedSessions) {
    lines.push(`  note: ${t.encryptedSessions} session(s) switched to SMB3 encryption; their shares, files and users after that point are not visible`);
  }
  lines.push(`  time ${seconds.toFixed(2)} s, ${(seconds > 0 ? mb / seconds : 0).toFixed(1)} MB/s`);
  return lines.join('\n');
}
