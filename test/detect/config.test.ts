/**
 * --rules-config: YAML and JSON files, every validation error as one RulesConfigError naming the
 * file and the key, per-rule switches and severities, and allow-lists by user, client (IPv4/IPv6
 * CIDR), server (address or the host of the UNC share), share and path globs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cidrContains, compileConfig, globToRegExp, loadRulesConfig, MAX_CONFIG_BYTES, parseCidr, parseRulesConfig, RulesConfigError,
} from '../../src/detect/config';
import { ev, hits, open, put, rpc } from './events';

const dir = mkdtempSync(join(tmpdir(), 'smbtrail-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const compiled = (yaml: string) => compileConfig(parseRulesConfig(yaml, 'test.yaml'));

function configError(fn: () => unknown): RulesConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RulesConfigError);
    expect((err as Error).message).not.toContain('\n');
    return err as RulesConfigError;
  }
  throw new Error('no error thrown');
}

describe('loading', () => {
  it('reads a YAML file with every section', () => {
    const p = file('good.yaml', `
# tuning for CONTOSO
rules:
  DISCOVERY-SHARES: { enabled: false }
  SVC-START: { severity: high }
  DISCOVERY-BURST: { min_operations: 8, window_seconds: 30 }
allow:
  - rules: [DRS-REPLICATION, STORY-DCSYNC]
    client: [10.0.0.10, 10.0.0.11]
    note: domain controllers
  - user: 'CONTOSO\\svc_backup'
    share: ADMIN$
stories:
  window_seconds: 300
`);
    const cfg = loadRulesConfig(p);
    expect(cfg.source).toBe(p);
    expect(cfg.rules['DISCOVERY-SHARES']).toEqual({ enabled: false });
    expect(cfg.allow).toHaveLength(2);
    const c = compileConfig(cfg);
    expect(c.ruleEnabled('DISCOVERY-SHARES')).toBe(false);
    expect(c.ruleEnabled('SVC-CREATE')).toBe(true);
    expect(c.ruleSeverity('SVC-START')).toBe('high');
    expect(c.ruleSeverity('SVC-CREATE')).toBe('high');
    expect(c.ruleSeverity('STORY-PSEXEC')).toBe('high');
    expect(c.storyWindowSeconds).toBe(300);
    expect(c.discoveryBurst).toEqual({ minOperations: 8, windowSeconds: 30 });
  });

  it('reads JSON (YAML is a superset) and an empty file as the defaults', () => {
    const c = compileConfig(loadRulesConfig(file('good.json', JSON.stringify({ rules: { 'SVC-START': { severity: 'low' } }, allow: [{ client: 'fe80::/10' }] }))));
    expect(c.ruleSeverity('SVC-START')).toBe('low');
    const d = compileConfig(loadRulesConfig(file('empty.yaml', '# nothing\n')));
    expect(d.storyWindowSeconds).toBe(600);
    expect(d.discoveryBurst).toEqual({ minOperations: 5, windowSeconds: 60 });
    expect(d.eventRules.length).toBeGreaterThan(30);
  });

  it('a missing file is a RulesConfigError naming it', () => {
    const e = configError(() => loadRulesConfig(join(dir, 'nope.yaml')));
    expect(e.message).toMatch(/^rules config .*nope\.yaml: cannot read the file \(ENOENT\)$/);
  });

  it('not a tuning file: an endless device, a huge file, brackets nested thousands deep: one line each', () => {
    expect(configError(() => loadRulesConfig('/dev/zero')).message).toMatch(/\/dev\/zero: larger than 1 MB: not a rules file$/);
    expect(configError(() => loadRulesConfig(file('big.yaml', `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`))).message).toMatch(/big\.yaml: larger than 1 MB: not a rules file$/);
    expect(configError(() => loadRulesConfig(file('deep.json', '['.repeat(100_000)))).message).toMatch(/deep\.json: not valid YAML\/JSON.*: nested too deeply$/);
  });

  it('bad YAML names the file, line and column in one line', () => {
    const e = configError(() => loadRulesConfig(file('bad.yaml', 'rules:\n  SVC-START: { severity: high\nallow: [\n')));
    expect(e.message).toMatch(/bad\.yaml: not valid YAML\/JSON at line \d+, column \d+: /);
    const dup = configError(() => parseRulesConfig('rules: {}\nrules: {}\n', 'dup.yaml'));
    expect(dup.message).toMatch(/dup\.yaml: not valid YAML/);
  });
});

describe('validation: one clear message naming the file and key', () => {
  const cases: [string, string, RegExp][] = [
    ['unknown top-level key', 'rulez: {}', /x\.yaml: rulez: unknown key \(expected one of rules, allow, stories\)$/],
    ['top level not a mapping', '- a\n- b', /x\.yaml: the top level must be a mapping/],
    ['unknown rule id', 'rules: { SVC-CREAT: { enabled: false } }', /x\.yaml: rules\.SVC-CREAT: unknown rule id 'SVC-CREAT'$/],
    ['bad severity', 'rules: { SVC-CREATE: { severity: critical } }', /rules\.SVC-CREATE\.severity: bad severity "critical" \(expected info, low, medium, high\)$/],
    ['enabled not boolean', 'rules: { SVC-CREATE: { enabled: "no" } }', /rules\.SVC-CREATE\.enabled: must be true or false$/],
    ['unknown rule setting', 'rules: { SVC-CREATE: { level: 3 } }', /rules\.SVC-CREATE\.level: unknown key/],
    ['rule setting not a mapping', 'rules: { SVC-CREATE: false }', /rules\.SVC-CREATE: must be a mapping/],
    ['burst setting on another rule', 'rules: { SVC-CREATE: { window_seconds: 5 } }', /rules\.SVC-CREATE\.window_seconds: only DISCOVERY-BURST/],
    ['burst threshold of 1', 'rules: { DISCOVERY-BURST: { min_operations: 1 } }', /rules\.DISCOVERY-BURST\.min_operations: must be a whole number from 2 up/],
    ['allow not a list', 'allow: { user: x }', /x\.yaml: allow: must be a list of entries$/],
    ['unknown allow key', 'allow: [ { usr: bob } ]', /allow\[0\]\.usr: unknown key \(expected one of rules, user, client, server, share, path, note\)$/],
    ['bad CIDR', 'allow: [ { client: 10.0.0.0/33 } ]', /allow\[0\]\.client: bad IP address or CIDR '10\.0\.0\.0\/33'$/],
    ['bad IPv4', 'allow: [ { client: 10.0.0.256 } ]', /allow\[0\]\.client: bad IP address or CIDR/],
    ['bad IPv6 CIDR', 'allow: [ { user: a }, { client: "fe80::1::2/64" } ]', /allow\[1\]\.client: bad IP address or CIDR 'fe80::1::2\/64'$/],
    ['host name as client', 'allow: [ { client: dc1 } ]', /allow\[0\]\.client: bad IP address or CIDR 'dc1'$/],
    ['bad server CIDR', 'allow: [ { server: 10.1.0.0/40 } ]', /allow\[0\]\.server: bad IP address or CIDR/],
    ['unknown rule in allow', 'allow: [ { rules: [SVC-CREATE, NOPE], user: a } ]', /allow\[0\]\.rules\[1\]: unknown rule id 'NOPE'$/],
    ['allow entry without a matcher', 'allow: [ { rules: [SVC-CREATE], note: x } ]', /allow\[0\]: needs at least one of user, client, server, share, path/],
    ['empty string', 'allow: [ { user: "" } ]', /allow\[0\]\.user: must not be empty$/],
    ['number instead of string', 'allow: [ { share: 5 } ]', /allow\[0\]\.share: must be a string or a non-empty list of strings$/],
    ['bad story window', 'stories: { window_seconds: 0 }', /stories\.window_seconds: must be a whole number/],
    ['unknown story key', 'stories: { window: 10 }', /stories\.window: unknown key/],
  ];
  it.each(cases)('%s', (_name, text, re) => {
    const e = configError(() => parseRulesConfig(text, 'x.yaml'));
    expect(e.message).toMatch(re);
    expect(e.file).toBe('x.yaml');
    expect(e.name).toBe('RulesConfigError');
  });

  it('compileConfig re-validates an object built in code', () => {
    const e = configError(() => compileConfig({ source: 'code', rules: { BAD: {} }, allow: [], stories: {} }));
    expect(e.message).toBe("rules config code: rules.BAD: unknown rule id 'BAD'");
  });
});

describe('per-rule settings', () => {
  it('enabled: false removes the rule from events', () => {
    const c = compiled('rules: { DISCOVERY-SHARES: { enabled: false } }');
    expect(hits(rpc('srvsvc', 'NetShareEnumAll'), c)).toEqual([]);
    expect(hits(rpc('srvsvc', 'NetShareEnumAll'))).toEqual(['DISCOVERY-SHARES']);
  });

  it('severity: low lowers what the rule raises to, but never the flags\' severity', () => {
    const c = compiled('rules: { SVC-CREATE: { severity: low } }');
    expect(hitsSev(rpc('svcctl', 'CreateServiceW'), c)).toEqual(['low', ['SVC-CREATE']]);
    const admin = compiled('rules: { SMB-ADMIN-SHARE-WRITE: { severity: low } }');
    expect(hitsSev(put('ADMIN$', 'x.exe'), admin)).toEqual(['high', ['SMB-ADMIN-SHARE-WRITE']]);
    const raise = compiled('rules: { DISCOVERY-SHARES: { severity: high } }');
    expect(hitsSev(rpc('srvsvc', 'NetShareEnumAll'), raise)).toEqual(['high', ['DISCOVERY-SHARES']]);
  });
});

function hitsSev(e: ReturnType<typeof ev>, c: ReturnType<typeof compileConfig>): [string, string[]] {
  const r = hits(e, c);
  return [e.severity, r];
}

describe('allow-lists', () => {
  it('by user: DOMAIN\\user (one or two backslashes), bare user, glob, case-insensitive; other rules stay', () => {
    for (const y of ["allow: [ { user: 'CONTOSO\\svc_backup' } ]", 'allow: [ { user: "CONTOSO\\\\svc_backup" } ]', 'allow: [ { user: svc_* } ]', "allow: [ { user: 'contoso\\SVC_BACKUP' } ]"]) {
      const c = compiled(y);
      expect(hits(put('ADMIN$', 'agent.exe', { user: 'svc_backup', domain: 'CONTOSO' }), c), y).toEqual([]);
      expect(hits(put('ADMIN$', 'agent.exe', { user: 'admin', domain: 'CONTOSO' }), c), y).toEqual(['SMB-ADMIN-SHARE-WRITE']);
    }
    const c = compiled("allow: [ { user: 'CONTOSO\\svc_backup' } ]");
    expect(hits(put('ADMIN$', 'agent.exe', { user: 'svc_backup', domain: 'FABRIKAM' }), c)).toEqual(['SMB-ADMIN-SHARE-WRITE']);
    expect(hits(put('ADMIN$', 'agent.exe', { user: null, domain: null }), c)).toEqual(['SMB-ADMIN-SHARE-WRITE']);
  });

  it('rules: only the listed rules lose their hits', () => {
    const c = compiled('allow: [ { rules: [SVC-SHELL-COMMAND], user: admin } ]');
    expect(hits(rpc('svcctl', 'CreateServiceW', { binary_path: 'cmd.exe /c backup.cmd' }), c)).toEqual(['SVC-CREATE']);
  });

  it('by client: IPv4 CIDR, single address, IPv6 CIDR, v4-mapped', () => {
    const c = compiled('allow: [ { rules: [DRS-REPLICATION], client: [10.0.0.0/29, "2001:db8::/32"] } ]');
    const drs = (src: string) => rpc('drsuapi', 'DsGetNCChanges', null, { src_ip: src, share: null, path: null });
    expect(hits(drs('10.0.0.7'), c)).toEqual([]);
    expect(hits(drs('10.0.0.8'), c)).toEqual(['DRS-REPLICATION']);
    expect(hits(drs('2001:db8:1::5'), c)).toEqual([]);
    expect(hits(drs('2001:db9::5'), c)).toEqual(['DRS-REPLICATION']);
    expect(hits(drs('::ffff:10.0.0.3'), c)).toEqual([]);
    const one = compiled('allow: [ { client: 10.0.0.5 } ]');
    expect(hits(drs('10.0.0.5'), one)).toEqual([]);
    expect(hits(drs('10.0.0.50'), one)).toEqual(['DRS-REPLICATION']);
  });

  it('by server host name: matches the host of \\\\host\\share, not only dst_ip (BZAR compares names with addresses)', () => {
    const c = compiled('allow: [ { server: FS01, share: "ADMIN$" } ]');
    expect(hits(put('ADMIN$', 'x.exe', { share: '\\\\FS01\\ADMIN$', dst_ip: '198.18.10.10' }), c)).toEqual([]);
    expect(hits(put('ADMIN$', 'x.exe', { share: '\\\\fs01.contoso.local\\ADMIN$' }), c)).toEqual([]);
    expect(hits(put('ADMIN$', 'x.exe', { share: '\\\\FS02\\ADMIN$' }), c)).toEqual(['SMB-ADMIN-SHARE-WRITE']);
    // the same server reached by address: a name cannot match it
    expect(hits(put('ADMIN$', 'x.exe', { share: '\\\\198.18.10.10\\ADMIN$', dst_ip: '198.18.10.10' }), c)).toEqual(['SMB-ADMIN-SHARE-WRITE']);
    const fq = compiled('allow: [ { server: fs01.contoso.local } ]');
    expect(hits(put('ADMIN$', 'x.exe', { share: '\\\\FS01\\ADMIN$' }), fq)).toEqual([]);
    const glob = compiled('allow: [ { server: "fs*" } ]');
    expect(hits(put('ADMIN$', 'x.exe', { share: '\\\\FS07\\ADMIN$' }), glob)).toEqual([]);
  });

  it('by server address: dst_ip, or an address in the UNC share', () => {
    const c = compiled('allow: [ { server: 198.18.10.0/24 } ]');
    expect(hits(put('ADMIN$', 'x.exe', { share: '\\\\FS01\\ADMIN$', dst_ip: '198.18.10.10' }), c)).toEqual([]);
    expect(hits(put('ADMIN$', 'x.exe', { share: '\\\\198.18.10.10\\ADMIN$', dst_ip: '10.9.9.9' }), c)).toEqual([]);
    expect(hits(put('ADMIN$', 'x.exe', { share: '\\\\FS01\\ADMIN$', dst_ip: '198.18.11.10' }), c)).toEqual(['SMB-ADMIN-SHARE-WRITE']);
    const v6 = compiled('allow: [ { server: "fd00::/8" } ]');
    expect(hits(put('ADMIN$', 'x.exe', { dst_ip: 'fd00::12' }), v6)).toEqual([]);
  });

  it('by share glob (name, or whole UNC when it starts with \\\\) and path glob', () => {
    const share = compiled('allow: [ { share: "?$" } ]');
    expect(hits(put('C$', 'x.exe'), share)).toEqual([]);
    expect(hits(put('ADMIN$', 'x.exe'), share)).toEqual(['SMB-ADMIN-SHARE-WRITE']);
    const unc = compiled('allow: [ { share: "\\\\\\\\fs01\\\\admin$" } ]');
    expect(hits(put('ADMIN$', 'x.exe', { share: '\\\\FS01\\ADMIN$' }), unc)).toEqual([]);
    const path = compiled('allow: [ { share: C$, path: "Program Files/Agent/*.exe" } ]');
    expect(hits(put('C$', 'Program Files\\Agent\\update.exe'), path)).toEqual([]);
    expect(hits(put('C$', 'program files\\agent\\sub\\update.exe'), path)).toEqual(['SMB-ADMIN-SHARE-WRITE']);
    expect(hits(put('ADMIN$', 'Program Files\\Agent\\update.exe'), path)).toEqual(['SMB-ADMIN-SHARE-WRITE']);
    const deep = compiled('allow: [ { path: "Program Files\\\\Agent\\\\**\\\\*.exe" } ]');
    expect(hits(put('C$', 'program files\\agent\\sub\\update.exe'), deep)).toEqual([]);
    expect(hits(put('C$', 'Program Files\\Agent\\update.exe'), deep)).toEqual([]);
  });

  it('all given keys must match', () => {
    const c = compiled('allow: [ { user: admin, client: 10.0.0.5, share: ADMIN$ } ]');
    expect(hits(put('ADMIN$', 'x.exe'), c)).toEqual([]);
    expect(hits(put('ADMIN$', 'x.exe', { src_ip: '10.0.0.6' }), c)).toEqual(['SMB-ADMIN-SHARE-WRITE']);
    expect(hits(put('C$', 'x.exe'), c)).toEqual(['SMB-ADMIN-SHARE-WRITE']);
    expect(hits(open('IPC$', 'PSEXESVC', { user: 'bob' }), c)).toEqual(['PSEXEC-PSEXESVC']);
  });
});

describe('addresses and globs', () => {
  it('parses IPv4/IPv6 CIDRs and rejects bad ones', () => {
    for (const ok of ['10.0.0.0/8', '0.0.0.0/0', '10.1.2.3', '::/0', '::1', 'fe80::1%eth0', '2001:db8::/32', '::ffff:10.0.0.0/104', '1:2:3:4:5:6:7:8', '[::1]']) expect(parseCidr(ok), ok).not.toBeNull();
    for (const bad of ['10.0.0.0/33', '10.0.0', '1:2:3:4:5:6:7:8:9', 'fe80:::1', '::/129', 'x', '10.0.0.0/', '10.0.0.0/-1', '1::2::3', '12345::']) expect(parseCidr(bad), bad).toBeNull();
    expect(cidrContains(parseCidr('10.0.0.1/8')!, '10.255.0.1')).toBe(true);
    expect(cidrContains(parseCidr('::/0')!, '10.0.0.1')).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, 'fe80::1')).toBe(false);
    expect(cidrContains(parseCidr('2001:db8::1:0:0:1/128')!, '2001:0db8:0:0:1::1')).toBe(true);
    expect(cidrContains(parseCidr('10.0.0.0/8')!, null)).toBe(false);
  });

  it('globs: * and ? literal otherwise; path globs stop at backslashes', () => {
    expect(globToRegExp('a.b*', false).test('A.Bcd')).toBe(true);
    expect(globToRegExp('a.b*', false).test('aXb')).toBe(false);
    expect(globToRegExp('(x)+$', false).test('(x)+$')).toBe(true);
    expect(globToRegExp('a\\*', true).test('a\\b\\c')).toBe(false);
    expect(globToRegExp('a\\**', true).test('a\\b\\c')).toBe(true);
  });
});
