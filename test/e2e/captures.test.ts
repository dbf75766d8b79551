/**
 * The project's own lab captures (made by scripts/lab from Samba, smbclient and impacket)
 * against the tshark truth computed when they were made: exact match required.
 */
import { describe, expect, it } from 'vitest';
import { CAPTURES, compare, hasSmb1, readTruth, scanEvents, truthFiles } from './truth';

const files = truthFiles(CAPTURES);

describe('lab captures match their tshark truth', () => {
  it('has lab captures with truth files', () => {
    expect(files.length).toBeGreaterThanOrEqual(11);
  });
  for (const tf of files) {
    const cap = tf.slice(0, -'.truth.json'.length);
    const truth = readTruth(tf);
    it(`${cap.slice(CAPTURES.length + 1)}${hasSmb1(truth) ? ' (SMB1)' : ''}`, async () => {
      const { events } = await scanEvents(cap);
      const c = compare(truth, events);
      expect(c.tree.ours).toEqual(c.tree.truth);
      expect(c.create.ours).toEqual(c.create.truth);
      expect(c.users.ours).toEqual(c.users.truth);
    });
  }
});
