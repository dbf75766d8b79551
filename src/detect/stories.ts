/**
 * Stories: the events of one attack chain told as one event. A responder should not have to
 * assemble "exe written to ADMIN$" + "CreateService" + "StartService" + "PSEXESVC-*-stdin" from
 * forty rows across three connections; the story names the tool, the binary, the service and the
 * command, and refers back to every frame.
 *
 * Steps are grouped by client, target host and time: an episode lasts while steps keep coming
 * within the window of the previous one. When it closes, its steps are sorted into chains by what
 * ties them (the uploaded file named by the service's binary path, the service name, the tool's
 * names, the task path, the output file) rather than by their order or number, so repeated or
 * reordered writes give one story, not one per write. Requests count whatever their status: a
 * refused CreateService is still the attempt.
 */
import type { SmbEvent, Severity } from '../events/event';
import type { EventRecord } from '../events/record';
import { SEVERITY_RANK, shareHost, shareName } from './rules';
import { DETECTION_RULES, DISCOVERY_RULE_IDS, ruleById, SERVICE_COMMAND_RULES } from './detections';
import { CompiledConfig, DEFAULT_BURST, DEFAULT_STORY_WINDOW_SECONDS } from './config';
import { StepBatch, stepsInOrder, unpackStep } from './step';

export interface StoryOptions {
  /** rule switches, severities, allow-lists, window and burst settings */
  config?: CompiledConfig;
  /** an episode ends when no step follows within this many seconds (default: config, else 600) */
  windowSeconds?: number;
  /** client/target pairs followed at once; beyond, the least recently active is closed early */
  maxPairs?: number;
  /** steps kept per pair; beyond, the oldest are dropped (counted) */
  maxStepsPerPair?: number;
  /** steps kept in total; beyond, the least recently active pair is closed early */
  maxTotalSteps?: number;
}

export interface StoryStats {
  /** events given to add() */
  events: number;
  /** events that became steps (a chain or discovery rule hit) */
  steps: number;
  /** steps dropped because a pair held maxStepsPerPair */
  steps_dropped: number;
  /** pairs closed before their window ended, to stay within maxPairs / maxTotalSteps */
  pairs_closed_early: number;
  /** pairs followed now */
  pairs: number;
  /** steps held now */
  steps_held: number;
  stories: number;
}

/** what a story keeps of an event */
interface Step {
  t: number;
  ref: string;
  e: SmbEvent;
}

interface Episode {
  key: string;
  steps: Step[];
  last: number;
}

interface Burst {
  key: string;
  steps: Step[];
  last: number;
  /** discovery operations inside the sliding window, oldest first */
  window: { t: number; op: string }[];
  counts: Map<string, number>;
  fired: boolean;
  distinct: Set<string>;
}

const DISCOVERY = new Set(DISCOVERY_RULE_IDS);
/** what a discovery burst looked for, by the techniques of its calls (it said "share, host and account" whatever they were) */
const DISCOVERED: Record<string, string> = {
  T1016: 'network configuration', T1018: 'remote system', T1033: 'owner/user', T1049: 'network connection', T1069: 'permission group',
  T1082: 'system information', T1083: 'open file', T1087: 'account', T1124: 'system time', T1135: 'share',
};
/** event rules that are context, not steps of an execution chain */
const NOT_CHAIN = new Set([...DISCOVERY_RULE_IDS, 'DISCOVERY-BURST']);

/** ISO 8601 with up to 9 fractional digits, as seconds (ms precision of Date.parse is not enough) */
export function tsSeconds(ts: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?Z$/.exec(ts);
  if (!m) return Number.NaN;
  return Date.parse(`${m[1]}Z`) / 1000 + (m[2] ? Number(`0${m[2]}`) : 0);
}

export class StoryBuilder {
  private readonly window: number;
  private readonly burstN: number;
  private readonly burstWindow: number;
  private readonly maxPairs: number;
  private readonly maxStepsPerPair: number;
  private readonly maxTotalSteps: number;
  /** ordered by last activity: the first entry is the next to expire */
  private readonly episodes = new Map<string, Episode>();
  private readonly bursts = new Map<string, Burst>();
  private readonly done: SmbEvent[] = [];
  private now = Number.NEGATIVE_INFINITY;
  private held = 0;
  private readonly counters = { events: 0, steps: 0, steps_dropped: 0, pairs_closed_early: 0, stories: 0 };

  constructor(private readonly opts: StoryOptions = {}) {
    const c = opts.config;
    this.window = opts.windowSeconds ?? c?.storyWindowSeconds ?? DEFAULT_STORY_WINDOW_SECONDS;
    this.burstN = c?.discoveryBurst.minOperations ?? DEFAULT_BURST.minOperations;
    this.burstWindow = c?.discoveryBurst.windowSeconds ?? DEFAULT_BURST.windowSeconds;
    this.maxPairs = opts.maxPairs ?? 10_000;
    this.maxStepsPerPair = opts.maxStepsPerPair ?? 2_000;
    this.maxTotalSteps = opts.maxTotalSteps ?? 100_000;
  }

  /** One event, in time order. Events without rule hits cost nothing. */
  add(e: SmbEvent): void {
    this.counters.events++;
    if (e.rules.length === 0 || e.action === 'story') return;
    let t = tsSeconds(e.ts);
    if (!Number.isFinite(t)) t = Number.isFinite(this.now) ? this.now : 0;
    if (t > this.now) {
      this.now = t;
      this.expire();
    }
    const key = `${e.src_ip}|${e.dst_ip}`;
    const step: Step = { t, ref: `${e.capture}#${e.frame}`, e };
    let counted = false;
    if (e.rules.some((r) => DISCOVERY.has(r))) {
      this.addDiscovery(key, step);
      counted = true;
    }
    if (e.rules.some((r) => !NOT_CHAIN.has(r))) {
      this.addChainStep(key, step);
      counted = true;
    }
    if (counted) this.counters.steps++;
  }

  /** Stories whose window has closed since the last call. */
  take(): SmbEvent[] {
    const out = this.done.splice(0, this.done.length);
    return sortStories(out);
  }

  /** Closes every episode; returns the stories not taken yet, by time, capture and frame. */
  finish(): SmbEvent[] {
    for (const ep of [...this.episodes.values()]) this.closeEpisode(ep);
    for (const b of [...this.bursts.values()]) this.closeBurst(b);
    return this.take();
  }

  stats(): StoryStats {
    return { ...this.counters, pairs: this.episodes.size + this.bursts.size, steps_held: this.held };
  }

  // -------------------------------------------------------------------------------------------

  private expire(): void {
    for (const ep of this.episodes.values()) {
      if (this.now - ep.last <= this.window) break;
      this.closeEpisode(ep);
    }
    for (const b of this.bursts.values()) {
      if (this.now - b.last <= this.burstWindow) break;
      this.closeBurst(b);
    }
  }

  private addChainStep(key: string, step: Step): void {
    let ep = this.episodes.get(key);
    if (ep) this.episodes.delete(key);
    else {
      if (this.episodes.size + this.bursts.size >= this.maxPairs) this.closeOldest();
      ep = { key, steps: [], last: step.t };
    }
    this.episodes.set(key, ep);
    ep.last = Math.max(ep.last, step.t);
    ep.steps.push(step);
    this.held++;
    if (ep.steps.length > this.maxStepsPerPair) {
      ep.steps.shift();
      this.held--;
      this.counters.steps_dropped++;
    }
    while (this.held > this.maxTotalSteps && this.closeOldest());
  }

  private addDiscovery(key: string, step: Step): void {
    let b = this.bursts.get(key);
    if (b) this.bursts.delete(key);
    else {
      if (this.episodes.size + this.bursts.size >= this.maxPairs) this.closeOldest();
      b = { key, steps: [], last: step.t, window: [], counts: new Map(), fired: false, distinct: new Set() };
    }
    this.bursts.set(key, b);
    b.last = Math.max(b.last, step.t);
    const op = `${(step.e.rpc_interface ?? '').toLowerCase()} ${step.e.rpc_operation ?? ''}`;
    b.window.push({ t: step.t, op });
    b.counts.set(op, (b.counts.get(op) ?? 0) + 1);
    while (b.window.length && step.t - b.window[0].t > this.burstWindow) {
      const old = b.window.shift()!;
      const n = b.counts.get(old.op)! - 1;
      if (n === 0) b.counts.delete(old.op); else b.counts.set(old.op, n);
    }
    if (b.counts.size >= this.burstN) b.fired = true;
    if (b.distinct.size < 1000) b.distinct.add(op);
    b.steps.push(step);
    this.held++;
    if (b.steps.length > this.maxStepsPerPair) {
      b.steps.shift();
      this.held--;
      this.counters.steps_dropped++;
    }
    while (this.held > this.maxTotalSteps && this.closeOldest());
  }

  /** closes the least recently active pair; false when there is none */
  private closeOldest(): boolean {
    const ep = this.episodes.values().next();
    const b = this.bursts.values().next();
    if (ep.done && b.done) return false;
    this.counters.pairs_closed_early++;
    if (!ep.done && (b.done || ep.value.last <= b.value.last)) this.closeEpisode(ep.value);
    else this.closeBurst(b.value!);
    return true;
  }

  private closeEpisode(ep: Episode): void {
    this.episodes.delete(ep.key);
    this.held -= ep.steps.length;
    for (const s of analyse(ep.steps)) this.emit(s);
  }

  private closeBurst(b: Burst): void {
    this.bursts.delete(b.key);
    this.held -= b.steps.length;
    if (!b.fired) return;
    const steps = b.steps;
    const first = steps[0];
    const ops = [...b.distinct];
    const span = steps[steps.length - 1].t - first.t;
    const techniques = new Set<string>();
    for (const s of steps) for (const r of s.e.rules) if (DISCOVERY.has(r)) for (const t of ruleById(r)!.attack) techniques.add(t);
    const what = [...techniques].sort().map((t) => DISCOVERED[t] ?? t);
    const summary = `${who(first.e)} made ${ops.length} distinct discovery calls to ${target(first.e)} in ${span.toFixed(1)} s: `
      + `${listed(ops, 8)} — ${sentence(what)} discovery`;
    this.emit({ id: 'DISCOVERY-BURST', strong: true, key: first, steps, summary, attack: [...techniques].sort() });
  }

  private emit(s: Story): void {
    const cfg = this.opts.config;
    if (cfg && !cfg.ruleEnabled(s.id)) return;
    const rule = ruleById(s.id)!;
    let severity: Severity = cfg ? cfg.ruleSeverity(s.id) : rule.severity;
    if (!s.strong && SEVERITY_RANK[severity] > SEVERITY_RANK.medium) severity = 'medium';
    const ev = storyEvent(s, rule.attack, severity);
    // allowed only when every step is: an entry that covers the step the story is told from (its
    // key) must not hide the steps it does not cover (allowing ADMIN$ for an account hid a whole
    // chain whose executable was copied to C$: found by a new-user trial)
    if (cfg && cfg.isAllowed(ev, s.id) && s.steps.every((st) => cfg.isAllowed(st.e, s.id))) return;
    this.counters.stories++;
    this.done.push(ev);
  }
}

interface Story {
  id: string;
  /** false: a weak chain (one element of it seen), reported as medium at most */
  strong: boolean;
  /** the step whose client, server and user the story carries */
  key: Step;
  steps: Step[];
  summary: string;
  attack?: string[];
}

function storyEvent(s: Story, ruleAttack: readonly string[], severity: Severity): SmbEvent {
  const steps = [...s.steps].sort((a, b) => a.t - b.t);
  const first = steps[0].e;
  const k = s.key.e;
  const rules = [s.id];
  const attack = [...(s.attack ?? ruleAttack)];
  const refs: string[] = [];
  for (const st of steps) {
    for (const r of st.e.rules) if (!rules.includes(r)) rules.push(r);
    for (const a of st.e.attack) if (!attack.includes(a)) attack.push(a);
    if (!refs.includes(st.ref)) refs.push(st.ref);
  }
  return {
    ts: first.ts, capture: first.capture, frame: first.frame, response_frame: null,
    src_ip: k.src_ip, src_port: k.src_port, dst_ip: k.dst_ip, dst_port: k.dst_port, smb_dialect: k.smb_dialect,
    session_id: k.session_id, user: k.user, domain: k.domain, workstation: k.workstation,
    action: 'story', share: k.share, share_type: k.share_type, tree_id: k.tree_id, path: k.path, new_path: null,
    status: null, disposition: null, access: [], bytes: null,
    rpc_interface: null, rpc_operation: null, rpc_args: null,
    flags: [], attack, severity, rules, summary: s.summary, refs,
  };
}

function sortStories(xs: SmbEvent[]): SmbEvent[] {
  return xs.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.capture < b.capture ? -1 : a.capture > b.capture ? 1 : a.frame - b.frame));
}

// ---------------------------------------------------------------------------------------------
// chains

type Tool =
  | 'psexec' | 'paexec' | 'remcom' | 'csexec' | 'impacket-psexec' | 'smbexec' | 'service'
  | 'atexec' | 'task' | 'wmiexec' | 'dcsync' | 'secretsdump' | 'zerologon' | 'dcomexec';

const STORY_ID: Record<Tool, string> = {
  psexec: 'STORY-PSEXEC', paexec: 'STORY-PAEXEC', remcom: 'STORY-REMCOM', csexec: 'STORY-CSEXEC',
  'impacket-psexec': 'STORY-IMPACKET-PSEXEC', smbexec: 'STORY-SMBEXEC', service: 'STORY-SERVICE-EXEC',
  atexec: 'STORY-ATEXEC', task: 'STORY-TASK-EXEC', wmiexec: 'STORY-WMIEXEC', dcsync: 'STORY-DCSYNC', secretsdump: 'STORY-SECRETSDUMP',
  zerologon: 'STORY-ZEROLOGON', dcomexec: 'STORY-DCOMEXEC',
};

const TOOL_LABEL: Record<Tool, string> = {
  psexec: 'PsExec', paexec: 'PAExec', remcom: 'RemCom', csexec: 'CSExec', 'impacket-psexec': 'impacket psexec.py',
  smbexec: 'impacket smbexec.py', service: 'remote service execution', atexec: 'impacket atexec.py',
  task: 'remote scheduled task', wmiexec: 'WMI remote execution with output files (impacket wmiexec/dcomexec)',
  dcsync: 'DCSync', secretsdump: 'remote credential dumping (impacket secretsdump)', zerologon: 'Zerologon (CVE-2020-1472)',
  dcomexec: 'DCOM remote execution (impacket dcomexec, MMC20/ShellWindows)',
};

const SERVICE_TOOLS: Tool[] = ['psexec', 'paexec', 'remcom', 'csexec', 'impacket-psexec', 'smbexec', 'service'];

interface Chain {
  tool: Tool;
  uploads: Step[];
  services: Step[];
  starts: Step[];
  pipes: Step[];
  outputs: Step[];
  tasks: Step[];
  runs: Step[];
  wmi: Step[];
  drs: Step[];
  registry: Step[];
  /** netlogon calls with a zero credential (Zerologon) */
  netlogon: Step[];
  /** DCOM activations and the commands passed to the object */
  dcom: Step[];
  /** the tool's other files: re-opened or deleted binaries */
  files: Step[];
}

const has = (s: Step, id: string): boolean => s.e.rules.includes(id);
const base = (p: string | null): string => (p ?? '').slice((p ?? '').lastIndexOf('\\') + 1).toLowerCase();
const arg = (s: Step, k: string): string | null => s.e.rpc_args?.[k] ?? null;
const lower = (x: string | null): string => (x ?? '').toLowerCase();

function isServiceDef(s: Step): boolean {
  return has(s, 'SVC-CREATE') || has(s, 'SVC-MODIFY') || ((has(s, 'IMPACKET-SMBEXEC') || SERVICE_COMMAND_RULES.some((r) => has(s, r))) && s.e.action === 'rpc');
}

/** a tool's own names outrank impacket's random-name shape, which a real name can happen to fit */
function markerTool(s: Step): Tool | null {
  if (has(s, 'PSEXEC-PSEXESVC') || has(s, 'PSEXEC-PIPE-SHAPE')) return 'psexec';
  if (has(s, 'PSEXEC-PAEXEC')) return 'paexec';
  if (has(s, 'PSEXEC-CSEXEC')) return 'csexec';
  if (has(s, 'IMPACKET-PSEXEC')) return 'impacket-psexec';
  if (has(s, 'PSEXEC-REMCOM')) return 'remcom';
  return null;
}

/** Sorts one episode's steps into chains and tells each chain that is a story. */
function analyse(steps: Step[]): Story[] {
  steps = [...steps].sort((a, b) => a.t - b.t);
  const chains = new Map<Tool, Chain>();
  const chain = (tool: Tool): Chain => {
    let c = chains.get(tool);
    if (!c) {
      c = { tool, uploads: [], services: [], starts: [], pipes: [], outputs: [], tasks: [], runs: [], wmi: [], drs: [], registry: [], netlogon: [], dcom: [], files: [] };
      chains.set(tool, c);
    }
    return c;
  };

  const uploads = steps.filter((s) => has(s, 'SMB-ADMIN-SHARE-WRITE'));
  const uploadNames = new Map<string, Step[]>();
  for (const u of uploads) {
    const n = base(u.e.action === 'rename' ? u.e.new_path : u.e.path);
    uploadNames.set(n, [...(uploadNames.get(n) ?? []), u]);
  }

  // PsExec -r NAME names its pipes NAME-host-pid-std*: the service NAME is PsExec's
  const pipePrefixes = new Set<string>();
  for (const s of steps) {
    const m = has(s, 'PSEXEC-PIPE-SHAPE') ? PIPE_SHAPE.exec(s.e.path ?? '') : null;
    if (m) pipePrefixes.add(m[1].toLowerCase());
  }

  // services next: their binary paths and names decide where uploads, starts and pipes belong
  const serviceTool = new Map<string, Tool>();
  const binaryTool = new Map<string, Tool>();
  const defs: { step: Step; tool: Tool }[] = [];
  for (const s of steps) {
    if (!isServiceDef(s)) continue;
    const bin = base(arg(s, 'binary_path')?.split(/\s+/)[0] ?? null);
    const uploaded = uploadNames.get(bin);
    let tool: Tool;
    if (has(s, 'IMPACKET-SMBEXEC')) tool = 'smbexec';
    else if (pipePrefixes.has(lower(arg(s, 'service_name')))) tool = 'psexec';
    else tool = markerTool(s) ?? uploaded?.map(markerTool).find((x) => x) ?? 'service';
    defs.push({ step: s, tool });
    chain(tool).services.push(s);
    if (arg(s, 'service_name')) serviceTool.set(lower(arg(s, 'service_name')), tool);
    if (bin) binaryTool.set(bin, tool);
  }

  for (const [name, us] of uploadNames) {
    const tool = binaryTool.get(name) ?? us.map(markerTool).find((x) => x) ?? null;
    if (tool) { chain(tool).uploads.push(...us); continue; }
    // an executable that no binary path names still belongs to the service chain of the episode
    const svc = chains.get('service') ?? (defs.length ? chain(defs[defs.length - 1].tool) : null);
    if (svc) svc.uploads.push(...us);
    else chain('service').uploads.push(...us);
  }

  for (const s of steps) {
    if (isServiceDef(s) || has(s, 'SMB-ADMIN-SHARE-WRITE')) continue;
    if (has(s, 'SVC-START')) {
      const name = lower(arg(s, 'service_name'));
      if (name === 'remoteregistry') { chain('secretsdump').registry.push(s); continue; }
      const byName = name ? serviceTool.get(name) : undefined;
      const before = [...defs].reverse().find((d) => d.step.t <= s.t);
      chain(byName ?? markerTool(s) ?? before?.tool ?? 'service').starts.push(s);
      continue;
    }
    const marker = markerTool(s);
    if (marker && s.e.action !== 'rpc') {
      const tool = marker === 'remcom' && chains.has('impacket-psexec') ? 'impacket-psexec' : marker;
      // a tree connect not seen (or not answered) leaves the share unknown: the name still tells a pipe
      if (shareName(s.e.share) === 'IPC$' || (s.e.share === null && (PIPE_SHAPE.test(s.e.path ?? '') || /^psexec?svc$/i.test(s.e.path ?? '')))) chain(tool).pipes.push(s);
      else chain(binaryTool.get(base(s.e.path)) ?? tool).files.push(s);
      continue;
    }
    if (marker) {
      // OpenService / DeleteService / ControlService naming the tool's service
      chain(serviceTool.get(lower(arg(s, 'service_name'))) ?? marker).files.push(s);
      continue;
    }
    if (has(s, 'IMPACKET-OUTPUT-FILE')) {
      const p = lower(s.e.path);
      if (p === '__output') chain(chains.has('smbexec') ? 'smbexec' : 'service').outputs.push(s);
      // dcomexec names its output files as wmiexec does: the chain seen before them owns them
      else if (/^__\d/.test(p)) chain(chains.has('dcomexec') ? 'dcomexec' : 'wmiexec').outputs.push(s);
      else if (/system32\\/.test(p)) chain('secretsdump').outputs.push(s);
      else chain(taskOwner(s, steps)).outputs.push(s);
      continue;
    }
    if (has(s, 'IMPACKET-ATEXEC')) { chain('atexec').tasks.push(s); continue; }
    if (has(s, 'ATSVC-JOB-ADD') || has(s, 'TSCH-REGISTER-TASK')) { chain('task').tasks.push(s); continue; }
    if (has(s, 'TSCH-RUN-TASK')) { chain(runOwner(s, steps)).runs.push(s); continue; }
    if (has(s, 'WMI-EXEC-METHOD')) { chain('wmiexec').wmi.push(s); continue; }
    if (has(s, 'DRS-REPLICATION')) { chain('dcsync').drs.push(s); continue; }
    if (has(s, 'ZEROLOGON')) { chain('zerologon').netlogon.push(s); continue; }
    if (has(s, 'DCOM-EXEC-CLASS') || has(s, 'DCOM-SHELL-COMMAND')) { chain('dcomexec').dcom.push(s); continue; }
    if (has(s, 'SECRETSDUMP') || has(s, 'REG-SAVE-KEY') || has(s, 'REG-REMOTE-WRITE')) { chain('secretsdump').registry.push(s); continue; }
  }

  // remote registry work next to DRS replication is one credential-dumping run
  const sd = chains.get('secretsdump');
  const dc = chains.get('dcsync');
  if (sd && dc) {
    sd.drs.push(...dc.drs);
    chains.delete('dcsync');
  }
  // replication after an accepted Zerologon, as the machine account it emptied (or as no known
  // account), is what the attack was for: told in its story. Any other replication keeps its own
  // story and its account (refused attempts then a DCSync as Administrator: found in review)
  const zl = chains.get('zerologon');
  const dc2 = chains.get('dcsync');
  if (zl && dc2) {
    const won = zl.netlogon.filter((s) => /authenticate/i.test(s.e.rpc_operation ?? '') && s.e.status !== null && OK_STATUS.test(s.e.status));
    const machine = new Set(zl.netlogon.map((s) => lower(arg(s, 'account')).replace(/\$$/, '')));
    const byIt = (s: Step): boolean => won.length > 0 && s.t >= won[0].t && (!s.e.user || machine.has(lower(s.e.user).replace(/\$$/, '')));
    zl.drs.push(...dc2.drs.filter(byIt));
    dc2.drs = dc2.drs.filter((s) => !byIt(s));
    if (!dc2.drs.length) chains.delete('dcsync');
  }

  const stories: Story[] = [];
  for (const c of chains.values()) {
    const s = tell(c);
    if (s) stories.push(s);
  }
  return stories;
}

const PIPE_SHAPE = /^([^\\]+?)-[^-\\]+-\d+-(stdin|stdout|stderr)$/i;

/** a Temp\x.tmp output file: atexec when a task command names it, else the task chain */
function taskOwner(s: Step, steps: Step[]): Tool {
  const name = base(s.e.path);
  const named = steps.find((t) => (has(t, 'IMPACKET-ATEXEC') || has(t, 'TSCH-REGISTER-TASK') || has(t, 'ATSVC-JOB-ADD'))
    && `${arg(t, 'command') ?? ''} ${arg(t, 'arguments') ?? ''}`.toLowerCase().includes(name));
  if (named) return has(named, 'IMPACKET-ATEXEC') ? 'atexec' : 'task';
  if (steps.some((t) => has(t, 'IMPACKET-ATEXEC'))) return 'atexec';
  if (steps.some((t) => has(t, 'SECRETSDUMP') || has(t, 'REG-SAVE-KEY'))) return 'secretsdump';
  return 'task';
}

function runOwner(s: Step, steps: Step[]): Tool {
  const path = lower(arg(s, 'task_path'));
  const reg = steps.find((t) => (has(t, 'IMPACKET-ATEXEC') || has(t, 'TSCH-REGISTER-TASK')) && path !== '' && lower(arg(t, 'task_path')) === path);
  if (reg) return has(reg, 'IMPACKET-ATEXEC') ? 'atexec' : 'task';
  return steps.some((t) => has(t, 'IMPACKET-ATEXEC')) ? 'atexec' : 'task';
}

// ---------------------------------------------------------------------------------------------
// telling

const OK_STATUS = /^(STATUS_SUCCESS|ERROR_SUCCESS|WERR_OK|0|0x0+|success)$/i;

function who(e: SmbEvent): string {
  if (!e.user) return e.src_ip;
  return `${e.src_ip} (${e.domain ? `${e.domain}\\` : ''}${e.user})`;
}

function target(e: SmbEvent): string {
  const h = shareHost(e.share);
  return h ? (e.share!.match(/^\\\\([^\\]*)/)?.[1] ?? h) : e.dst_ip;
}

function clip(s: string, n = 160): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function listed(xs: string[], n: number): string {
  const u = [...new Set(xs)];
  return u.length > n ? `${u.slice(0, n).join(', ')} (+${u.length - n} more)` : u.join(', ');
}

function sentence(parts: string[]): string {
  const p = parts.filter(Boolean);
  if (p.length <= 1) return p.join('');
  return `${p.slice(0, -1).join(', ')} and ${p[p.length - 1]}`;
}

/** a response whose result cannot be read (RESPONSE_ENCRYPTED: packet privacy): neither done nor failed */
const UNKNOWN_RESULT = /^RESPONSE/;

/**
 * A service start answered ERROR_SERVICE_REQUEST_TIMEOUT (1053): the service manager started the
 * binary, which never reported to it — what a command line or any program that is not a service
 * does ([MS-SCMR] RStartServiceW). The program ran: smbexec's cmd.exe, a dropped tool.
 */
const ranUnanswered = (s: Step): boolean => has(s, 'SVC-START') && s.e.status === 'ERROR_SERVICE_REQUEST_TIMEOUT';

/** answered with an error that means it did not happen */
const failed = (s: Step): boolean => s.e.status !== null && !OK_STATUS.test(s.e.status) && !UNKNOWN_RESULT.test(s.e.status) && !ranUnanswered(s);

/** an operation as a story names it in a result: with its service when several may be involved */
function opName(s: Step): string {
  const svc = s.e.rpc_interface === 'svcctl' && !isServiceDef(s) ? arg(s, 'service_name') : null;
  return `${s.e.rpc_operation ?? base(s.e.path)}${svc ? ` ${svc}` : ''}`;
}

function failures(steps: Step[]): string {
  const f = steps.filter(failed).map((s) => `${opName(s)} ${s.e.status}`);
  const hidden = steps.filter((s) => s.e.status === 'RESPONSE_ENCRYPTED').map((s) => s.e.rpc_operation ?? base(s.e.path));
  // no response at all (a capture cut short, or one direction only): the story cannot say it worked
  const unanswered = steps.length > 0 && steps.every((s) => s.e.status === null);
  return (f.length ? ` [failed: ${listed(f, 3)}]` : '') + (hidden.length ? ` [result encrypted: ${listed(hidden, 3)}]` : '')
    + (unanswered ? ' [no response captured: result unknown]' : '');
}

/** every step was answered with an error: the story says it was tried, not done */
const refused = (steps: readonly Step[]): boolean => steps.length > 0 && steps.every(failed);
/** "created service" or, when refused, "tried to create service" */
const did = (steps: readonly Step[], done: string, attempt: string): string => (refused(steps) ? `tried to ${attempt}` : done);

function uploadPart(us: Step[]): string {
  if (!us.length) return '';
  const byShare = new Map<string, string[]>();
  for (const u of us) {
    const share = u.e.share ?? '?';
    const name = u.e.action === 'rename' ? u.e.new_path : u.e.path;
    byShare.set(share, [...(byShare.get(share) ?? []), name ?? '?']);
  }
  return `${did(us, 'copied', 'copy')} ${[...byShare].map(([share, names]) => `${listed(names, 4)} to ${share}`).join(' and ')}`;
}

function servicePart(defs: Step[], smbexec: boolean): string {
  if (!defs.length) return '';
  const one = (s: Step): string => {
    // no name: the stub was encrypted (packet privacy) or not captured
    const name = arg(s, 'service_name') ?? '(name not readable)';
    const bin = arg(s, 'binary_path');
    const verb = has(s, 'SVC-MODIFY') ? did([s], 'changed service', 'change service') : did([s], 'created service', 'create service');
    if (smbexec && bin) {
      const cmd = /echo\s+(.*?)\s+\^?>/i.exec(bin)?.[1];
      return `${verb} ${name} to run ${cmd !== undefined ? `«${clip(cmd.trim(), 80)}» ` : ''}(${clip(bin)})`;
    }
    return `${verb} ${name}${bin ? ` (${clip(bin)})` : ''}`;
  };
  const uniq = new Map<string, Step>();
  // services whose name and binary path cannot be read are not one service: they are counted
  const unreadable: Step[] = [];
  for (const d of defs) {
    if (arg(d, 'service_name') === null && arg(d, 'binary_path') === null) { unreadable.push(d); continue; }
    const k = `${lower(arg(d, 'service_name'))}|${lower(arg(d, 'binary_path'))}`;
    // a creation refused then retried with success was done (found in review)
    const seen = uniq.get(k);
    if (seen === undefined || (failed(seen) && !failed(d))) uniq.set(k, d);
  }
  const all = [...uniq.values()];
  const parts = all.slice(0, 3).map(one);
  if (unreadable.length === 1) parts.push(one(unreadable[0]));
  else if (unreadable.length > 1) {
    const [done, attempt] = unreadable.every((s) => has(s, 'SVC-MODIFY')) ? ['changed', 'change'] : ['created', 'create'];
    parts.push(`${did(unreadable, done, attempt)} ${unreadable.length} services (names not readable)`);
  }
  const shown = parts.join('; ');
  return all.length > 3 ? `${shown} (+${all.length - 3} more services)` : shown;
}

function tell(c: Chain): Story | null {
  const all = [...c.uploads, ...c.services, ...c.starts, ...c.pipes, ...c.outputs, ...c.tasks, ...c.runs, ...c.wmi, ...c.drs, ...c.registry, ...c.netlogon, ...c.dcom, ...c.files]
    .sort((a, b) => a.t - b.t);
  if (!all.length) return null;
  const id = STORY_ID[c.tool];
  const label = TOOL_LABEL[c.tool];

  if (SERVICE_TOOLS.includes(c.tool)) {
    const named = c.tool !== 'service';
    const execution = c.services.length + c.starts.length + c.pipes.length;
    // an executable copied with nothing seen running it: still the first thing a responder must
    // check on the target, told as staging (medium), not as execution
    if (execution === 0) {
      if (c.tool !== 'service' || !c.uploads.length) return null;
      const key = c.uploads[0];
      return {
        id: 'STORY-ADMIN-SHARE-STAGING', strong: false, key, steps: all,
        summary: `${who(key.e)} ${uploadPart(c.uploads)}; nothing was seen running it — staged for lateral movement?${failures(c.uploads)}`,
      };
    }
    if (c.tool === 'service' && c.services.length === 0 && c.uploads.length === 0) return null;
    const strong = named
      ? c.services.length > 0 || c.starts.length > 0 || (c.pipes.length > 0 && c.uploads.length > 0)
      : c.services.length > 0 && (c.uploads.length > 0 || c.starts.length > 0);
    const key = c.services[0] ?? c.starts[0] ?? c.pipes[0] ?? all[0];
    const parts = [uploadPart(c.uploads), servicePart(c.services, c.tool === 'smbexec')];
    if (c.starts.length) {
      // services, not steps: the same creation seen twice (overlapping captures) is one service
      const them = new Set(c.services.map((s) => `${lower(arg(s, 'service_name'))}|${lower(arg(s, 'binary_path'))}`)).size > 1
        || c.services.filter((s) => arg(s, 'service_name') === null && arg(s, 'binary_path') === null).length > 1 ? 'them' : 'it';
      parts.push(c.services.length ? did(c.starts, `started ${them}`, `start ${them}`)
        : `${did(c.starts, 'started', 'start')} service ${listed(c.starts.map((s) => arg(s, 'service_name') ?? '?'), 3)}`);
      const ran = c.starts.filter(ranUnanswered);
      if (ran.length) {
        const whose = them === 'it' ? 'its program' : `the program of ${listed(ran.map((s) => arg(s, 'service_name') ?? '?'), 3)}`;
        parts.push(`${whose} ran without answering the service manager (ERROR_SERVICE_REQUEST_TIMEOUT: a command or a program that is not a service)`);
      }
    }
    if (c.pipes.length) {
      const pipes = c.pipes.map((p) => p.e.path ?? '?');
      // PSEXESVC-<client host>-<pid>-stdin: host names may hold dashes themselves
      const origin = pipes.map((p) => /^[^-\\]+-(.+)-(\d+)-(stdin|stdout|stderr)$/i.exec(p)).find((m) => m);
      parts.push(`${did(c.pipes, 'opened', 'open')} pipes ${listed(pipes, 4)}${origin ? ` (client host ${origin[1]}, process ${origin[2]})` : ''}`);
    }
    if (c.outputs.length) parts.push(`read output ${listed(c.outputs.map((o) => `${shareName(o.e.share)}\\${o.e.path}`), 2)}`);
    const removed = [...c.files, ...c.uploads].filter((f) => f.e.action === 'delete').map((f) => f.e.path ?? '?');
    if (removed.length) parts.push(`deleted ${listed(removed, 3)}`);
    const where = c.uploads.length ? '' : ` on ${target(key.e)}`;
    const summary = `${who(key.e)} ${sentence(parts)}${where} — ${label}${failures([...c.services, ...c.starts])}`;
    return { id, strong, key, steps: all, summary };
  }

  if (c.tool === 'atexec' || c.tool === 'task') {
    if (!c.tasks.length && !(c.runs.length && c.outputs.length)) return null;
    const key = c.tasks[0] ?? c.runs[0];
    const parts = c.tasks.slice(0, 3).map((t) => {
      const cmd = [arg(t, 'command'), arg(t, 'arguments')].filter(Boolean).join(' ');
      return t.e.rpc_operation?.toLowerCase().includes('jobadd')
        ? `${did([t], 'added', 'add')} AT job${cmd ? ` «${clip(cmd)}»` : ''}`
        : `${did([t], 'registered', 'register')} task ${arg(t, 'task_path') ?? '?'}${cmd ? ` running «${clip(cmd)}»` : ''}`;
    });
    if (c.tasks.length > 3) parts.push(`${c.tasks.length - 3} more tasks`);
    if (c.runs.length) {
      parts.push(c.tasks.length ? did(c.runs, 'ran it', 'run it')
        : `${did(c.runs, 'ran', 'run')} task ${listed(c.runs.map((r) => arg(r, 'task_path') ?? '?'), 3)}`);
    }
    if (c.uploads.length) parts.unshift(uploadPart(c.uploads));
    if (c.outputs.length) parts.push(`read ${listed(c.outputs.map((o) => o.e.path ?? '?'), 2)} from ${c.outputs[0].e.share ?? '?'}`);
    const strong = c.tasks.length > 0 && (c.tool === 'atexec' || c.runs.length > 0 || c.outputs.length > 0);
    // an AT job is T1053.002, a task of the Task Scheduler T1053.005: the story names what was used
    const attack = c.tool === 'task'
      ? [...new Set([...c.tasks, ...c.runs].map((t) => (t.e.rpc_operation?.toLowerCase().includes('jobadd') ? 'T1053.002' : 'T1053.005')))].sort()
      : undefined;
    return { id, strong, key, steps: all, attack, summary: `${who(key.e)} ${sentence(parts)} on ${target(key.e)} — ${label}${failures(c.tasks)}` };
  }

  if (c.tool === 'wmiexec') {
    if (!c.outputs.length) return null;
    const key = c.wmi[0] ?? c.outputs[0];
    const parts = [c.wmi.length ? `called WMI ExecMethod ${c.wmi.length}×` : '', `read command output ${listed(c.outputs.map((o) => `${shareName(o.e.share)}\\${o.e.path}`), 3)}`];
    return { id, strong: c.wmi.length > 0, key, steps: all, summary: `${who(key.e)} ${sentence(parts)} on ${target(key.e)} — ${label}` };
  }

  if (c.tool === 'dcsync') {
    const key = c.drs[0];
    return {
      id, strong: true, key, steps: all,
      summary: `${who(key.e)} requested directory replication from ${key.e.dst_ip} (DsGetNCChanges ×${c.drs.length}) — ${label}, unless ${key.e.src_ip} is a domain controller${failures(c.drs.slice(0, 1))}`,
    };
  }

  if (c.tool === 'zerologon') return zerologon(c, all);
  if (c.tool === 'dcomexec') return dcomexec(c, all);

  // secretsdump
  const dump = c.registry.filter((s) => has(s, 'SECRETSDUMP') || has(s, 'REG-SAVE-KEY'));
  const runKeys = c.registry.filter((s) => has(s, 'REG-RUN-KEY-WRITE'));
  if (!dump.length && !c.drs.length) return runKeys.length ? runKeyStory(runKeys) : null;
  if (!dump.length && !c.registry.length) return null;
  const key = dump[0] ?? c.drs[0];
  const parts: string[] = [];
  const rr = c.registry.filter((s) => lower(arg(s, 'service_name')) === 'remoteregistry');
  if (rr.length) parts.push('started RemoteRegistry');
  const saves = dump.filter((s) => /savekey/i.test(s.e.rpc_operation ?? ''));
  if (saves.length) {
    const what = (x: Step): string => {
      const k = arg(x, 'key'), f = arg(x, 'file');
      return k && f ? `${k} to ${f}` : k ?? f ?? '?';
    };
    parts.push(`${did(saves, 'saved', 'save')} ${listed(saves.map(what), 4)}`);
  }
  const keys = dump.filter((s) => !/savekey/i.test(s.e.rpc_operation ?? ''));
  if (keys.length) parts.push(`${did(keys, 'opened', 'open')} ${listed(keys.map((s) => arg(s, 'key') ?? '?'), 4)}`);
  // registry values written in the same episode (a Run key for persistence) are part of what
  // happened: they were refs of the story but missing from its text (found by a new-user trial)
  const writes = c.registry.filter((s) => has(s, 'REG-REMOTE-WRITE'));
  if (writes.length) parts.push(`${did(writes, 'wrote', 'write')} ${listed(writes.map(regValue), 3)}`);
  if (c.outputs.length) parts.push(`read ${listed(c.outputs.map((o) => o.e.path ?? '?'), 3)} from ${c.outputs[0].e.share ?? '?'}`);
  if (c.drs.length) parts.push(`requested directory replication (DsGetNCChanges ×${c.drs.length})`);
  // DCSync's technique only when replication was requested (the rule lists it for that case); a
  // value written under a Run key brings its own (REG-RUN-KEY-WRITE, merged from the step)
  const attack = ruleById(id)!.attack.filter((t) => t !== 'T1003.006' || c.drs.length > 0);
  return { id, strong: true, key, steps: all, attack, summary: `${who(key.e)} ${sentence(parts)} on ${target(key.e)} — ${label}${failures([...saves, ...writes])}` };
}

const regValue = (x: Step): string => {
  const k = arg(x, 'key'), v = arg(x, 'value_name'), d = arg(x, 'data');
  return `${k ?? '?'}${v ? `\\${v}` : ''}${d ? ` = ${d}` : ''}`;
};

/** values written under a Run key with no credential dumping around them: persistence on its own */
function runKeyStory(writes: Step[]): Story {
  const key = writes[0];
  return {
    id: 'STORY-RUN-KEY', strong: true, key, steps: writes,
    summary: `${who(key.e)} ${did(writes, 'wrote', 'write')} ${listed(writes.map(regValue), 3)} on ${target(key.e)} — registry Run-key persistence (runs at every logon or boot)${failures(writes)}`,
  };
}

/**
 * Zerologon: authentications with a zero credential until one is accepted, the machine password
 * set (to zeros), and what the account was then used for (directory replication).
 */
function zerologon(c: Chain, all: Step[]): Story {
  const tries = c.netlogon.filter((s) => /authenticate/i.test(s.e.rpc_operation ?? ''));
  const sets = c.netlogon.filter((s) => /passwordset/i.test(s.e.rpc_operation ?? ''));
  const accepted = tries.filter((s) => s.e.status !== null && OK_STATUS.test(s.e.status));
  const key = accepted[0] ?? sets[0] ?? c.netlogon[0];
  const account = arg(key, 'account') ?? arg(c.netlogon[0], 'account');
  const parts: string[] = [];
  if (tries.length) {
    const refusedN = tries.filter(failed).length;
    parts.push(`sent ${tries.length} netlogon authentication(s) with a zero credential${account ? ` for ${account}` : ''}`
      + (accepted.length ? (refusedN ? ` (${refusedN} refused, then accepted)` : ' (accepted)') : refusedN === tries.length ? ' (all refused)' : ''));
  }
  if (sets.length) {
    const zeros = sets.some((s) => arg(s, 'new_password') === 'all zeros');
    parts.push(`${did(sets, 'set', 'set')} the machine account's password${zeros ? ' to zeros' : ''} (${sets[0].e.rpc_operation})`);
  }
  if (c.drs.length) {
    // the netlogon calls carry no user; the replication is made as the account the attack gave
    const as = c.drs.find((s) => s.e.user)?.e;
    parts.push(`requested directory replication (DsGetNCChanges ×${c.drs.length}${as ? `, as ${as.domain ? `${as.domain}\\` : ''}${as.user}` : ''})`);
  }
  return {
    id: 'STORY-ZEROLOGON', strong: accepted.length > 0 || sets.length > 0, key, steps: all,
    summary: `${who(key.e)} ${sentence(parts)} on ${target(key.e)} — ${TOOL_LABEL.zerologon}${sets.length ? failures(sets) : ''}`,
  };
}

/** DCOM: the class activated, the commands passed to it, the output read back */
function dcomexec(c: Chain, all: Step[]): Story {
  const act = c.dcom.filter((s) => has(s, 'DCOM-EXEC-CLASS'));
  const cmds = c.dcom.filter((s) => has(s, 'DCOM-SHELL-COMMAND'));
  const key = act[0] ?? cmds[0] ?? all[0];
  const parts: string[] = [];
  if (act.length) parts.push(`${did(act, 'activated', 'activate')} ${listed(act.map((s) => arg(s, 'class') ?? '?'), 3)}`);
  const lines = cmds.map((s) => arg(s, 'strings') ?? arg(s, 'names') ?? '?');
  if (cmds.length) parts.push(`${did(cmds, 'passed it', 'pass it')} ${listed(lines.map((l) => `«${clip(l, 120)}»`), 3)}`);
  if (c.outputs.length) parts.push(`read command output ${listed(c.outputs.map((o) => `${shareName(o.e.share)}\\${o.e.path}`), 3)}`);
  return {
    id: 'STORY-DCOMEXEC', strong: act.length > 0 && (cmds.length > 0 || c.outputs.length > 0), key, steps: all,
    summary: `${who(key.e)} ${sentence(parts)} on ${target(key.e)} — ${TOOL_LABEL.dcomexec}${failures([...act, ...cmds])}`,
  };
}

/** rules a story can be made of (for documentation and tests) */
export const STORY_STEP_RULES: readonly string[] = DETECTION_RULES.filter((r) => r.match && !DISCOVERY.has(r.id)).map((r) => r.id);

/**
 * The stories of a scan from its steps (the events that hit a rule, collected in any order):
 * fed to one builder in time order, each story dated and sorted like its first step (just
 * after it).
 */
export function storiesFrom(batches: readonly StepBatch[], opts?: StoryOptions): EventRecord[] {
  const sb = new StoryBuilder(opts);
  // the same packets captured by two sensors (overlapping captures of one incident) are one
  // step; such copies have the same time text, so the same second: only its keys are remembered
  const seen = new Set<string>();
  let sec = Number.NaN;
  let total = 0;
  for (const b of batches) total += b.count;
  /** which steps, by their place in time order, were copies (skipped) */
  const copy = new Uint8Array(total);
  let at = 0;
  for (const packed of stepsInOrder(batches)) {
    const i = at++;
    if (packed.sec !== sec) {
      seen.clear();
      sec = packed.sec;
    }
    const e = unpackStep(packed).ev;
    const same = `${e.ts}|${e.src_ip}|${e.src_port}|${e.dst_ip}|${e.dst_port}|${e.session_id}|${e.action}|${e.path}|${e.rpc_operation}|${e.new_path}`;
    if (seen.has(same)) { copy[i] = 1; continue; }
    seen.add(same);
    sb.add(e);
  }
  const stories = sb.finish();
  // a second pass for what the stories cite of their steps, rather than an index of every step;
  // a copy can share its frame with a cited step and is passed over as in the first pass
  const cited = new Map<string, { sec: number; ns: number; seq: number; severity: Severity } | null>();
  for (const ev of stories) for (const ref of ev.refs) cited.set(ref, null);
  if (cited.size > 0) {
    at = 0;
    for (const packed of stepsInOrder(batches)) {
      if (copy[at++]) continue;
      const ref = `${packed.ev.capture}#${packed.ev.frame}`;
      if (cited.get(ref) !== null) continue;
      cited.set(ref, { sec: packed.sec, ns: packed.ns, seq: packed.seq, severity: unpackStep(packed).ev.severity });
    }
  }
  return stories.map((ev) => {
    // a story is at least as severe as its worst step: --min-severity high must not hide a chain
    // whose JobAdd or CreateService is itself high
    for (const ref of ev.refs) {
      const step = cited.get(ref);
      if (step && SEVERITY_RANK[step.severity] > SEVERITY_RANK[ev.severity]) ev.severity = step.severity;
    }
    const first = cited.get(ev.refs[0] ?? '');
    return { sec: first ? first.sec : 0, ns: first ? first.ns : 0, seq: first ? first.seq + 0.5 : 0, ev };
  });
}
