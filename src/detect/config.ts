/**
 * The tuning file of --rules-config: per-rule switches and severities, story and burst windows,
 * and allow-lists that remove rule hits from known-good activity (backup accounts, DCs, admin
 * workstations). YAML or JSON (YAML is a superset). Any mistake is one RulesConfigError naming
 * the file and the key, because a silently ignored allow-list or typo'd rule id hides or floods.
 */
import { closeSync, openSync, readSync } from 'fs';
import type * as Yaml from 'yaml';

/** `yaml` is ~70 modules: loaded only when a rules file is read, not by every scanning thread */
function parseYaml(text: string, options: Yaml.ParseOptions & Yaml.DocumentOptions & Yaml.SchemaOptions): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('yaml') as typeof Yaml).parse(text, options);
}
import type { Severity, SmbEvent } from '../events/event';
import { shareHost, shareName } from './rules';
import { ALL_RULES, compileMatch, CompiledRule, DETECTION_RULES, RULE_IDS } from './detections';

export class RulesConfigError extends Error {
  override name = 'RulesConfigError';
  constructor(readonly file: string, readonly key: string | null, readonly detail: string) {
    super(`rules config ${file}: ${key ? `${key}: ` : ''}${detail}`);
  }
}

export interface RuleSetting {
  enabled?: boolean;
  severity?: Severity;
  /** DISCOVERY-BURST only */
  min_operations?: number;
  /** DISCOVERY-BURST only */
  window_seconds?: number;
}

/** one allow-list entry; string-valued keys also take a list (any of them) */
export interface AllowEntry {
  /** rule ids this entry silences; all rules when absent */
  rules?: string[];
  /** user or DOMAIN\user, glob (* ?), case-insensitive */
  user?: string | string[];
  /** client address or CIDR (IPv4/IPv6) */
  client?: string | string[];
  /** server address/CIDR (dst_ip or the host of \\host\share), or host name glob (the host of \\host\share) */
  server?: string | string[];
  /** share name glob (ADMIN$, C$, IPC$…); a glob starting with \\ is matched against the whole \\host\share */
  share?: string | string[];
  /** path glob relative to the share: * within a folder, ** across folders, ? one character */
  path?: string | string[];
  note?: string;
}

export interface RulesConfig {
  /** the file name, for messages */
  source: string;
  rules: Record<string, RuleSetting>;
  allow: AllowEntry[];
  stories: { window_seconds?: number };
}

export interface CompiledConfig {
  source: string;
  /** enabled event rules with their configured severity */
  eventRules: CompiledRule[];
  ruleEnabled(id: string): boolean;
  ruleSeverity(id: string): Severity;
  /** an allow entry covering this rule matches the event */
  isAllowed(e: SmbEvent, ruleId: string): boolean;
  storyWindowSeconds: number;
  discoveryBurst: { minOperations: number; windowSeconds: number };
}

export const DEFAULT_STORY_WINDOW_SECONDS = 600;
export const DEFAULT_BURST = { minOperations: 5, windowSeconds: 60 } as const;

const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high'];
const TOP_KEYS = ['rules', 'allow', 'stories'];
const RULE_KEYS = ['enabled', 'severity', 'min_operations', 'window_seconds'];
const ALLOW_KEYS = ['rules', 'user', 'client', 'server', 'share', 'path', 'note'];
const ALLOW_MATCH_KEYS = ['user', 'client', 'server', 'share', 'path'];
const STORY_KEYS = ['window_seconds'];

/** A tuning file is a page of allow-list entries; anything larger is not one (`/dev/zero` grew to 4.6 GB). */
export const MAX_CONFIG_BYTES = 1 << 20;

/** Reads, parses and validates a rules config file. */
export function loadRulesConfig(path: string): RulesConfig {
  let text: string;
  let fd = -1;
  try {
    // a pipe is fine (`--rules-config <(…)`); anything endless (/dev/zero) stops at the bound
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_CONFIG_BYTES) throw new RulesConfigError(path, null, `larger than ${MAX_CONFIG_BYTES >> 20} MB: not a rules file`);
    text = buf.toString('utf8', 0, n);
  } catch (err) {
    if (err instanceof RulesConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new RulesConfigError(path, null, `cannot read the file (${code ?? (err as Error).message})`);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  return parseRulesConfig(text, path);
}

/** Parses YAML or JSON text and validates it; `source` names the file in messages. */
export function parseRulesConfig(text: string, source: string): RulesConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true, prettyErrors: true });
  } catch (err) {
    const e = err as Error & { linePos?: { line: number; col: number }[] };
    const at = e.linePos?.[0] ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    // a stack overflow (thousands of nested brackets) is the parser's limit, not a message for users
    const first = err instanceof RangeError || /Maximum call stack/.test(String(e.message))
      ? 'nested too deeply'
      : String(e.message).split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new RulesConfigError(source, null, `not valid YAML/JSON${at}: ${first}`);
  }
  return validateRulesConfig(raw, source);
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Checks a parsed config object key by key. */
export function validateRulesConfig(raw: unknown, source: string): RulesConfig {
  const fail = (key: string | null, detail: string): never => { throw new RulesConfigError(source, key, detail); };
  const cfg: RulesConfig = { source, rules: {}, allow: [], stories: {} };
  if (raw === null || raw === undefined) return cfg;
  if (!isObject(raw)) fail(null, 'the top level must be a mapping with keys rules, allow, stories');
  const top = raw as Record<string, unknown>;
  for (const k of Object.keys(top)) if (!TOP_KEYS.includes(k)) fail(k, `unknown key (expected one of ${TOP_KEYS.join(', ')})`);

  if (top.rules !== undefined && top.rules !== null) {
    if (!isObject(top.rules)) fail('rules', 'must be a mapping of rule id to settings');
    for (const [id, v] of Object.entries(top.rules as Record<string, unknown>)) {
      const key = `rules.${id}`;
      if (!RULE_IDS.has(id)) fail(key, `unknown rule id '${id}'`);
      if (!isObject(v)) fail(key, 'must be a mapping such as { enabled: false } or { severity: low }');
      const s: RuleSetting = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (!RULE_KEYS.includes(k)) fail(`${key}.${k}`, `unknown key (expected one of ${RULE_KEYS.join(', ')})`);
        if (k === 'enabled') {
          if (typeof x !== 'boolean') fail(`${key}.enabled`, 'must be true or false');
          s.enabled = x as boolean;
        } else if (k === 'severity') {
          if (typeof x !== 'string' || !SEVERITIES.includes(x as Severity)) fail(`${key}.severity`, `bad severity ${JSON.stringify(x)} (expected ${SEVERITIES.join(', ')})`);
          s.severity = x as Severity;
        } else {
          if (id !== 'DISCOVERY-BURST') fail(`${key}.${k}`, 'only DISCOVERY-BURST takes this setting');
          const min = k === 'min_operations' ? 2 : 1;
          if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > 1_000_000) fail(`${key}.${k}`, `must be a whole number from ${min} up`);
          s[k as 'min_operations' | 'window_seconds'] = x as number;
        }
      }
      cfg.rules[id] = s;
    }
  }

  if (top.allow !== undefined && top.allow !== null) {
    if (!Array.isArray(top.allow)) fail('allow', 'must be a list of entries');
    (top.allow as unknown[]).forEach((v, i) => {
      const key = `allow[${i}]`;
      if (!isObject(v)) fail(key, 'must be a mapping (rules, user, client, server, share, path, note)');
      const entry: AllowEntry = {};
      const obj = v as Record<string, unknown>;
      for (const [k, x] of Object.entries(obj)) {
        if (!ALLOW_KEYS.includes(k)) fail(`${key}.${k}`, `unknown key (expected one of ${ALLOW_KEYS.join(', ')})`);
        if (k === 'note') {
          if (typeof x !== 'string') fail(`${key}.note`, 'must be a string');
          entry.note = x as string;
          continue;
        }
        const list = typeof x === 'string' ? [x] : Array.isArray(x) && x.length > 0 && x.every((y) => typeof y === 'string') ? x as string[] : fail(`${key}.${k}`, 'must be a string or a non-empty list of strings');
        list.forEach((s, j) => {
          const sub = Array.isArray(x) ? `${key}.${k}[${j}]` : `${key}.${k}`;
          if (s.trim() === '') fail(sub, 'must not be empty');
          if (k === 'rules' && !RULE_IDS.has(s)) fail(sub, `unknown rule id '${s}'`);
          if (k === 'client' && !parseCidr(s)) fail(sub, `bad IP address or CIDR '${s}'`);
          if (k === 'server' && looksLikeAddress(s) && !parseCidr(s)) fail(sub, `bad IP address or CIDR '${s}'`);
        });
        if (k === 'rules') entry.rules = list;
        else (entry as Record<string, string | string[]>)[k] = x as string | string[];
      }
      if (!ALLOW_MATCH_KEYS.some((k) => k in entry)) fail(key, `needs at least one of ${ALLOW_MATCH_KEYS.join(', ')} (to turn a rule off use rules.<id>.enabled: false)`);
      cfg.allow.push(entry);
    });
  }

  if (top.stories !== undefined && top.stories !== null) {
    if (!isObject(top.stories)) fail('stories', 'must be a mapping such as { window_seconds: 600 }');
    for (const [k, x] of Object.entries(top.stories as Record<string, unknown>)) {
      if (!STORY_KEYS.includes(k)) fail(`stories.${k}`, `unknown key (expected ${STORY_KEYS.join(', ')})`);
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > 31 * 86400) fail(`stories.${k}`, 'must be a whole number of seconds from 1 up');
      cfg.stories.window_seconds = x as number;
    }
  }
  return cfg;
}

/** Builds the matchers of a validated config (an empty config when none is given). */
export function compileConfig(cfg: RulesConfig = { source: '(defaults)', rules: {}, allow: [], stories: {} }): CompiledConfig {
  // re-validated: compileConfig is public and may be handed an object built in code
  const valid = validateRulesConfig({ rules: cfg.rules, allow: cfg.allow, stories: cfg.stories }, cfg.source);
  const setting = (id: string): RuleSetting => valid.rules[id] ?? {};
  const ruleEnabled = (id: string): boolean => setting(id).enabled !== false;
  const defaults = new Map(ALL_RULES.map((r) => [r.id, r.severity]));
  const ruleSeverity = (id: string): Severity => setting(id).severity ?? defaults.get(id) ?? 'high';
  const eventRules: CompiledRule[] = [];
  for (const rule of DETECTION_RULES) {
    if (!rule.match || !ruleEnabled(rule.id)) continue;
    eventRules.push({ rule, severity: ruleSeverity(rule.id), test: compileMatch(rule.match) });
  }
  const entries = valid.allow.map(compileAllow);
  const burst = setting('DISCOVERY-BURST');
  return {
    source: valid.source,
    eventRules,
    ruleEnabled,
    ruleSeverity,
    isAllowed: (e, id) => entries.some((a) => (a.rules === null || a.rules.has(id)) && a.test(e)),
    storyWindowSeconds: valid.stories.window_seconds ?? DEFAULT_STORY_WINDOW_SECONDS,
    discoveryBurst: {
      minOperations: burst.min_operations ?? DEFAULT_BURST.minOperations,
      windowSeconds: burst.window_seconds ?? DEFAULT_BURST.windowSeconds,
    },
  };
}

interface CompiledAllow {
  rules: Set<string> | null;
  test: (e: SmbEvent) => boolean;
}

const asList = (x: string | string[] | undefined): string[] | null => (x === undefined ? null : typeof x === 'string' ? [x] : x);

function compileAllow(a: AllowEntry): CompiledAllow {
  const tests: ((e: SmbEvent) => boolean)[] = [];
  const users = asList(a.user);
  if (users) {
    const ms = users.map(userMatcher);
    tests.push((e) => ms.some((m) => m(e)));
  }
  const clients = asList(a.client);
  if (clients) {
    const cs = clients.map((c) => parseCidr(c)!);
    tests.push((e) => cs.some((c) => cidrContains(c, e.src_ip)));
  }
  const servers = asList(a.server);
  if (servers) {
    const ms = servers.map(serverMatcher);
    tests.push((e) => ms.some((m) => m(e)));
  }
  const shares = asList(a.share);
  if (shares) {
    const ms = shares.map((s) => {
      const whole = s.startsWith('\\\\');
      const re = globToRegExp(whole ? s : s.replace(/^\\+/, ''), false);
      return (e: SmbEvent) => e.share !== null && re.test(whole ? e.share : shareName(e.share));
    });
    tests.push((e) => ms.some((m) => m(e)));
  }
  const paths = asList(a.path);
  if (paths) {
    const res = paths.map((p) => globToRegExp(p.replace(/\//g, '\\').replace(/^\\+/, ''), true));
    tests.push((e) => res.some((re) => (e.path !== null && re.test(e.path)) || (e.new_path !== null && re.test(e.new_path))));
  }
  return { rules: a.rules ? new Set(a.rules) : null, test: (e) => tests.every((t) => t(e)) };
}

/** DOMAIN\user against domain and user, a bare name against the user alone */
function userMatcher(pattern: string): (e: SmbEvent) => boolean {
  // a backslash written twice (a JSON or double-quoted habit) still means one
  const p = pattern.replace(/\\+/g, '\\');
  const re = globToRegExp(p, false);
  if (p.includes('\\')) return (e) => e.user !== null && re.test(`${e.domain ?? ''}\\${e.user}`);
  return (e) => e.user !== null && re.test(e.user);
}

function looksLikeAddress(s: string): boolean {
  return s.includes('/') || s.includes(':') || /^\d+(\.\d+){3}$/.test(s);
}

/** An address/CIDR matches dst_ip and an address-literal share host; a name matches the share host only. */
function serverMatcher(s: string): (e: SmbEvent) => boolean {
  const cidr = looksLikeAddress(s) ? parseCidr(s) : null;
  if (cidr) {
    return (e) => cidrContains(cidr, e.dst_ip) || cidrContains(cidr, shareHost(e.share));
  }
  const want = s.toLowerCase();
  const re = globToRegExp(want, false);
  const wantLabel = want.split('.')[0];
  return (e) => {
    const host = shareHost(e.share);
    if (!host) return false;
    if (re.test(host)) return true;
    // FS01 names the same host as fs01.contoso.local: compare first labels when one side is short
    if (!want.includes('.') && !/[*?]/.test(want) && host.split('.')[0] === want) return true;
    return !host.includes('.') && want.includes('.') && !/[*?]/.test(want) && host === wantLabel;
  };
}

/** `*` and `?` (never across a backslash in a path glob, where `**` crosses folders); the rest is literal */
export function globToRegExp(glob: string, path: boolean): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (path && glob[i + 1] === '*') {
        i++;
        // "**\" also matches nothing, so that a\**\b matches a\b
        if (glob[i + 1] === '\\') { i++; out += '(?:.*\\\\)?'; } else out += '.*';
      } else out += path ? '[^\\\\]*' : '.*';
    } else if (c === '?') out += path ? '[^\\\\]' : '.';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 'is');
}

// ---------------------------------------------------------------------------------------------
// addresses

export interface Cidr {
  v6: boolean;
  net: bigint;
  bits: number;
}

function parseV4(s: string): bigint | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let n = 0n;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return null;
    n = (n << 8n) | BigInt(o);
  }
  return n;
}

function parseV6(s: string): bigint | null {
  let t = s.replace(/^\[|\]$/g, '');
  const zone = t.indexOf('%');
  if (zone >= 0) t = t.slice(0, zone);
  let tail: bigint | null = null;
  const lastColon = t.lastIndexOf(':');
  if (lastColon >= 0 && t.slice(lastColon + 1).includes('.')) {
    tail = parseV4(t.slice(lastColon + 1));
    if (tail === null) return null;
    t = `${t.slice(0, lastColon + 1)}0:0`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return null;
  const group = (h: string): string[] | null => (h === '' ? [] : h.split(':'));
  const head = group(halves[0]);
  const rest = halves.length === 2 ? group(halves[1]) : [];
  if (!head || !rest) return null;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail !== null) n = (n & ~0xffffffffn) | tail;
  return n;
}

const V4_MAPPED = 0xffff00000000n;

/** an address as [isV6, value]; ::ffff:a.b.c.d is taken as the IPv4 address it carries */
export function parseIp(s: string): { v6: boolean; n: bigint } | null {
  const v4 = parseV4(s);
  if (v4 !== null) return { v6: false, n: v4 };
  if (!s.includes(':')) return null;
  const v6 = parseV6(s);
  if (v6 === null) return null;
  if (v6 >> 32n === V4_MAPPED >> 32n) return { v6: false, n: v6 & 0xffffffffn };
  return { v6: true, n: v6 };
}

/** "10.0.0.0/8", "fe80::/10", or a single address (host bits beyond the prefix are ignored) */
export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf('/');
  const addr = parseIp((slash >= 0 ? s.slice(0, slash) : s).trim());
  if (!addr) return null;
  const width = addr.v6 ? 128 : 32;
  let bits = width;
  if (slash >= 0) {
    const b = s.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(b)) return null;
    bits = Number(b);
    // a prefix written on a v4-mapped address (::ffff:10.0.0.0/104) counts its 96 leading bits
    if (!addr.v6 && s.includes(':')) { if (bits < 96) return null; bits -= 96; }
    if (bits > width) return null;
  }
  const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(width - bits);
  return { v6: addr.v6, net: addr.n & mask, bits };
}

export function cidrContains(c: Cidr, ip: string | null): boolean {
  if (!ip) return false;
  const a = parseIp(ip);
  if (!a || a.v6 !== c.v6) return false;
  const width = c.v6 ? 128 : 32;
  const mask = c.bits === 0 ? 0n : ((1n << BigInt(c.bits)) - 1n) << BigInt(width - c.bits);
  return (a.n & mask) === c.net;
}
