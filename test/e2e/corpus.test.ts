/**
 * Every SMB2/3 capture of the shared corpus (Zeek, Suricata, Wireshark samples) against its
 * tshark truth: tree connects and creates with frame numbers, and users. Skips when the
 * corpus is not beside the project. SMB1 captures belong to the SMB1 decoder's own tests.
 */
import * as fs from 'fs';
import { describe, expect, it } from 'vitest';
import { compare, hasSmb1, readTruth, scanEvents, SHARED_CORPUS, truthFiles } from './truth';

const files = truthFiles(SHARED_CORPUS).filter((f) => !hasSmb1(readTruth(f)));

describe.skipIf(!fs.existsSync(SHARED_CORPUS))('shared corpus conformance (SMB2/3)', () => {
  it('finds the corpus', () => {
    expect(files.length).toBeGreaterThan(50);
  });
  for (const tf of files) {
    const cap = tf.slice(0, -'.truth.json'.length);
    it(cap.slice(SHARED_CORPUS.length + 1), async () => {
      const { events } = await scanEvents(cap);
      const c = compare(readTruth(tf), events);
      expect(c.tree.ours).toEqual(c.tree.truth);
      expect(c.create.ours).toEqual(c.create.truth);
      expect(c.users.ours).toEqual(c.users.truth);
    });
  }
});
