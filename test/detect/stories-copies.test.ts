/**
 * Stories from overlapping captures (two sensors saw the same packets): a copy of a step is
 * passed over, and never taken for the step a story cites (found in review of 7f54dff).
 */
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/events/record';
import { scanCapture } from '../../src/scan/scan-capture';
import { ALL_EVENTS } from '../../src/scan/filter';
import { detectWithStep } from '../../src/scan/jobs';
import { storiesFrom } from '../../src/detect/stories';
import { batchOf } from '../../src/detect/step';
import { CAPTURES } from '../e2e/truth';

async function steps(file: string, label: string): Promise<EventRecord[]> {
  const out: EventRecord[] = [];
  await scanCapture(path.join(CAPTURES, file), label, (r) => { const s = detectWithStep(r, ALL_EVENTS); if (s.ev.rules.length) out.push(s); });
  return out;
}

describe('stories from copies of the same packets', () => {
  it('a cited step is not confused with a duplicate (a copy from another sensor) in the same frame', async () => {
    // sensor b alone saw the .exe upload (Y); the same packet also carried a discovery call X,
    // which sensor a saw too: b's copy of X is a duplicate, Y is not, and both are b.pcap#22
    const [Y] = await steps('05-admin-share-exe-copy.pcap', 'b.pcap');
    const [disc] = await steps('09-discovery.pcap', 'x.pcap');
    const X = (capture: string, frame: number, seq: number): EventRecord => ({
      sec: Y.sec, ns: Y.ns, seq,
      ev: { ...disc.ev, ts: Y.ev.ts, capture, frame, src_ip: Y.ev.src_ip, src_port: Y.ev.src_port, dst_ip: Y.ev.dst_ip, dst_port: Y.ev.dst_port, session_id: Y.ev.session_id },
    });
    const recs = [X('a.pcap', 9, 1), X('b.pcap', Y.ev.frame, Y.seq - 1), Y];
    const stories = storiesFrom([batchOf(recs)]);
    expect(stories.map((s) => s.ev.rules[0])).toEqual(['STORY-ADMIN-SHARE-STAGING']);
    expect(stories[0].ev.refs[0]).toBe(`b.pcap#${Y.ev.frame}`);
    // raised to its step's severity (high), and dated just after Y
    expect(stories[0].ev.severity).toBe(Y.ev.severity);
    expect(stories[0].seq).toBe(Y.seq + 0.5);
  });

  it('a copy with the same time text but a finer timestamp (another resolution) is still one step', async () => {
    const [Y] = await steps('05-admin-share-exe-copy.pcap', 'a.pcap');
    // the second sensor's clock ticks in 2^-20 s: 37 ns apart, the same text at 6 digits
    const copyOfY: EventRecord = { ...Y, ns: Y.ns + 37, ev: { ...Y.ev, capture: 'b.pcap' } };
    const [one] = storiesFrom([batchOf([Y])]);
    const [both] = storiesFrom([batchOf([Y, copyOfY])]);
    expect(one.ev.refs).toEqual([`a.pcap#${Y.ev.frame}`]);
    expect(both.ev.refs).toEqual(one.ev.refs);
  });
});
