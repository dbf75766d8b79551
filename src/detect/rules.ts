/**
 * Detections are data: each rule names a flag, the ATT&CK techniques it maps to, the severity
 * it raises an event to, and a predicate over the event. Decoders know nothing of them.
 */
import type { SmbEvent, Severity } from '../events/event';

export interface FlagRule {
  flag: string;
  title: string;
  attack: string[];
  severity: Severity;
  test(e: SmbEvent): boolean;
}

/** last component of a UNC share path: \\host\ADMIN$ → ADMIN$ */
export function shareName(share: string | null): string {
  if (!share) return '';
  // asked several times per event by the flag and detection rules, for one share after another
  if (share === lastShare) return lastName;
  const i = share.lastIndexOf('\\');
  lastName = (i >= 0 ? share.slice(i + 1) : share).toUpperCase();
  lastShare = share;
  return lastName;
}
let lastShare = '', lastName = '';

/** host part of a UNC share path: \\host\ADMIN$ → host */
export function shareHost(share: string | null): string {
  // asked for every event (LOOPBACK_TARGET): a match array per event otherwise
  if (share === lastHostShare) return lastHost;
  const m = /^\\\\([^\\]*)/.exec(share ?? '');
  lastHost = m ? m[1].toLowerCase() : '';
  lastHostShare = share;
  return lastHost;
}
let lastHostShare: string | null = '', lastHost = '';

const isAdmin = (e: SmbEvent): boolean => shareName(e.share) === 'ADMIN$';
const isDrive = (e: SmbEvent): boolean => /^[A-Z]\$$/.test(shareName(e.share));

/** files that run when started: what an attacker copies before creating a service or task */
export const EXECUTABLE_EXTENSIONS = new Set([
  'exe', 'dll', 'sys', 'scr', 'com', 'cpl', 'ocx', 'msi', 'msp', 'bat', 'cmd', 'ps1', 'psm1',
  'vbs', 'vbe', 'js', 'jse', 'wsf', 'wsh', 'hta', 'lnk', 'jar', 'py', 'sh',
]);
export function isExecutableName(p: string | null): boolean {
  if (!p) return false;
  const base = p.slice(p.lastIndexOf('\\') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 && EXECUTABLE_EXTENSIONS.has(base.slice(dot + 1).toLowerCase());
}

const WRITE_RIGHTS = new Set(['WRITE_DATA', 'APPEND_DATA', 'GENERIC_WRITE', 'GENERIC_ALL', 'MAXIMUM_ALLOWED']);
const CREATING = new Set(['FILE_CREATE', 'FILE_OVERWRITE', 'FILE_OVERWRITE_IF', 'FILE_SUPERSEDE']);
/** the event puts (or may put) content into a file */
function writesContent(e: SmbEvent): boolean {
  if (e.action === 'write') return true;
  if (e.action === 'rename') return true;
  if (e.action !== 'create') return false;
  return (e.disposition !== null && CREATING.has(e.disposition)) || e.access.some((a) => WRITE_RIGHTS.has(a));
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost|0:0:0:0:0:0:0:1)$/;

export const FLAG_RULES: FlagRule[] = [
  {
    flag: 'ADMIN_SHARE', title: 'Use of the ADMIN$ administrative share', attack: ['T1021.002'], severity: 'medium',
    test: isAdmin,
  },
  {
    flag: 'DRIVE_SHARE', title: 'Use of a drive administrative share (C$, D$, …)', attack: ['T1021.002'], severity: 'medium',
    test: isDrive,
  },
  {
    flag: 'IPC_SHARE', title: 'IPC$ (named pipes; every Windows session uses it)', attack: [], severity: 'info',
    test: (e) => shareName(e.share) === 'IPC$',
  },
  {
    flag: 'PSEXESVC', title: 'PsExec service binary or pipe', attack: ['T1569.002'], severity: 'high',
    // PsExec before v2 named its control pipe \psexecsvc
    test: (e) => /psexec?svc/i.test(e.path ?? '') || /psexec?svc/i.test(e.new_path ?? ''),
  },
  {
    flag: 'EXECUTABLE_WRITE', title: 'Executable or script written to an administrative share', attack: ['T1570'], severity: 'high',
    // a rename puts its new name into the share; the old name is what is no longer there
    test: (e) => (isAdmin(e) || isDrive(e)) && writesContent(e)
      && isExecutableName(e.action === 'rename' ? e.new_path : e.path),
  },
  {
    flag: 'LOOPBACK_TARGET', title: 'Share addressed on the loopback host', attack: [], severity: 'low',
    test: (e) => LOOPBACK.test(shareHost(e.share)),
  },
  {
    flag: 'ENCRYPTED', title: 'SMB3 encryption: names and content below this point are not visible', attack: [], severity: 'info',
    test: (e) => e.action === 'encrypted',
  },
];

export const SEVERITY_RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3 };

/** Sets flags, ATT&CK ids and severity (the highest of the matching rules) on an event. */
export function applyFlagRules(e: SmbEvent, rules: readonly FlagRule[] = FLAG_RULES): SmbEvent {
  let sev = SEVERITY_RANK[e.severity];
  for (const r of rules) {
    if (!r.test(e)) continue;
    e.flags.push(r.flag);
    for (const t of r.attack) if (!e.attack.includes(t)) e.attack.push(t);
    if (SEVERITY_RANK[r.severity] > sev) { sev = SEVERITY_RANK[r.severity]; e.severity = r.severity; }
  }
  return e;
}
