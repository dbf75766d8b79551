import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureInfo } from '../../src/capture/packet';
import { readCapture } from '../../src/capture/reader';
import { collector, CORPUS, digest, HAVE_CORPUS, Rec, tsString } from './helpers';
import { truthFiles } from '../e2e/truth';

interface Truth {
  capinfo: { file_type: string; encapsulation: string; packets: string };
  tree_connects: Array<{ frame: number; ts: string }>;
  creates: Array<{ frame: number; ts: string }>;
}

/** capinfos encapsulation names → LINKTYPE_* values. */
const LINKTYPES: Record<string, number> = { ether: 1, 'linux-sll': 113, null: 0, rawip4: 228 };

async function readAll(file: string): Promise<{ info: CaptureInfo; recs: Rec[] }> {
  const { sink, recs } = collector();
  const info = await readCapture(file, sink);
  return { info, recs };
}

const TRUTHS = HAVE_CORPUS ? truthFiles(CORPUS) : [];

describe.skipIf(!HAVE_CORPUS)('shared corpus: every capture as capinfos and tshark see it', () => {
  it('has the 115 captures the corpus README promises', () => {
    expect(TRUTHS.length).toBe(115);
  });

  for (const truthPath of TRUTHS) {
    const capture = truthPath.slice(0, -'.truth.json'.length);
    const rel = path.relative(CORPUS, capture);
    it(rel, async () => {
      const truth = JSON.parse(fs.readFileSync(truthPath, 'utf8')) as Truth;
      const { info, recs } = await readAll(capture);
      const want = Number(truth.capinfo.packets);
      expect(info.packets, `${rel}: packet count (capinfos says ${want})`).toBe(want);
      expect(info.anomalies, `${rel}: anomalies`).toEqual({});
      expect(info.format).toBe(truth.capinfo.file_type.startsWith('pcapng') ? 'pcapng' : 'pcap');
      expect(info.gzip).toBe(truth.capinfo.file_type.includes('gzip'));
      const size = fs.statSync(capture).size;
      if (info.gzip) expect(info.bytes).toBeGreaterThan(size);
      else expect(info.bytes).toBe(size);
      expect(recs.map((r) => r.frame)).toEqual(Array.from({ length: want }, (_, i) => i + 1));
      const lt = LINKTYPES[truth.capinfo.encapsulation];
      expect(lt, `unknown encapsulation ${truth.capinfo.encapsulation}`).toBeDefined();
      expect(recs.every((r) => r.linkType === lt)).toBe(true);
      // tshark's frame numbers and timestamps for the SMB messages in the truth must be ours too
      for (const m of [...truth.tree_connects, ...truth.creates]) {
        if (typeof m.frame !== 'number') continue;
        expect(tsString(recs[m.frame - 1]), `${rel} frame ${m.frame}`).toBe(m.ts);
      }
    });
  }
});

const EDITCAP = '/usr/bin/editcap';
const MERGECAP = '/usr/bin/mergecap';
const HAVE_EDITCAP = HAVE_CORPUS && fs.existsSync(EDITCAP);

/** A digest line without the parts a format conversion may legitimately change. */
function sameContent(line: string): string {
  return line.replace(/^\d+ /, '').replace(/\/\d /, '/- ');
}

describe.skipIf(!HAVE_EDITCAP)('editcap and mergecap conversions of real captures read the same', () => {
  // made when the tests run: a skipped describe still runs its body, but not its hooks
  let tmp = '';
  beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-editcap-')); });
  afterAll(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });
  const source = path.join(CORPUS, 'zeek/smb3_multichannel.pcap');

  function run(tool: string, args: string[]): void {
    execFileSync(tool, args, { stdio: 'pipe' });
  }

  it('nanosecond pcap (a1b23c4d), pcapng, and pcapng with 10^-9 resolution', async () => {
    const base = await readAll(source);
    expect(base.info.packets).toBeGreaterThan(1000);
    const nsPcap = path.join(tmp, 'ns.pcap');
    const usPcapng = path.join(tmp, 'us.pcapng');
    const nsPcapng = path.join(tmp, 'ns.pcapng');
    run(EDITCAP, ['-F', 'nsecpcap', source, nsPcap]);
    run(EDITCAP, ['-F', 'pcapng', source, usPcapng]);
    run(EDITCAP, ['-F', 'pcapng', nsPcap, nsPcapng]);
    expect(fs.readFileSync(nsPcap).subarray(0, 4).toString('hex')).toBe('4d3cb2a1');
    const want = digest(base.recs).map(sameContent);
    for (const [file, format, digits] of [
      [nsPcap, 'pcap', 9],
      [usPcapng, 'pcapng', 6],
      [nsPcapng, 'pcapng', 9],
    ] as const) {
      const got = await readAll(file);
      const name = path.basename(file);
      expect(got.info.format, name).toBe(format);
      expect(got.info.anomalies, name).toEqual({});
      expect(got.recs.every((r) => r.tsDigits === digits), name).toBe(true);
      expect(digest(got.recs).map(sameContent), name).toEqual(want);
    }
  });

  it('a time-shifted pcapng with packet comments (EPB options)', async () => {
    const base = await readAll(source);
    const out = path.join(tmp, 'shifted.pcapng');
    run(EDITCAP, ['-F', 'pcapng', '-t', '3600.5', '-a', '1:first packet', '-a', '1000:a longer comment on packet 1000', source, out]);
    const shifted = await readAll(out);
    expect(shifted.info.anomalies).toEqual({});
    expect(shifted.recs).toHaveLength(base.recs.length);
    for (const i of [0, 1, 999, base.recs.length - 1]) {
      const a = base.recs[i];
      const b = shifted.recs[i];
      expect(b.tsSec * 1e9 + b.tsNs - (a.tsSec * 1e9 + a.tsNs)).toBe(3600.5e9);
      expect(b.data.equals(a.data)).toBe(true);
    }
  });

  it('mergecap of Ethernet, Linux SLL and raw IPv4 captures: one pcapng, three interfaces', async () => {
    const inputs = [
      'zeek/smb2_100_small_files.pcap',
      'suricata-verify/smb-eicar-file__input.pcap',
      'suricata-verify/dcerpc+dcerpc-dce-stub-data-04__input.pcap',
    ].map((r) => path.join(CORPUS, r));
    const out = path.join(tmp, 'merged.pcapng');
    run(MERGECAP, ['-F', 'pcapng', '-w', out, ...inputs]);
    const merged = await readAll(out);
    const parts = await Promise.all(inputs.map(readAll));
    expect(merged.info.anomalies).toEqual({});
    expect(merged.info.packets).toBe(parts.reduce((n, p) => n + p.info.packets, 0));
    expect(new Set(merged.recs.map((r) => r.linkType))).toEqual(new Set([1, 113, 228]));
    const sorted = (lines: string[]): string[] => lines.map(sameContent).sort();
    expect(sorted(digest(merged.recs))).toEqual(sorted(parts.flatMap((p) => digest(p.recs))));
  });
});
