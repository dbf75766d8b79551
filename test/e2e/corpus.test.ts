/**
 * Every SMB2/3 capture of the shared corpus (Zeek, Suricata, Wireshark samples) against its
 * tshark truth: tree connects and creates with frame numbers, and users (SMB1 included).
 * Skips when the corpus is not beside the project.
 */
import * as fs from 'fs';
import { describe, expect, it } from 'vitest';
import { compare, hasSmb1, readTruth, scanEvents, SHARED_CORPUS, truthFiles } from './truth';

/** captures whose SMB does not ride on TCP: out of scope, said in the README's limits */
const NOT_TCP: Record<string, string> = {
  'smb-legacy-implementation.pcapng': 'SMB1 over IPX (Windows for Workgroups), not TCP/IP',
};
const files = truthFiles(SHARED_CORPUS);

describe.skipIf(!fs.existsSync(SHARED_CORPUS))('shared corpus conformance', () => {
  it('finds the corpus', () => {
    expect(files.length).toBeGreaterThan(50);
  });
  for (const tf of files) {
    const cap = tf.slice(0, -'.truth.json'.length);
    const name = cap.slice(SHARED_CORPUS.length + 1);
    const skip = Object.keys(NOT_TCP).some((k) => name.endsWith(k));
    it.skipIf(skip)(`${name}${hasSmb1(readTruth(tf)) ? ' (SMB1)' : ''}`, async () => {
      const { events } = await scanEvents(cap);
      const c = compare(readTruth(tf), events);
      expect(c.tree.ours).toEqual(c.tree.truth);
      expect(c.create.ours).toEqual(c.create.truth);
      // plain SMB1 account names are users too, though tshark's NTLMSSP list does not hold them
      expect(c.users.ours).toEqual(expect.arrayContaining(c.users.truth));
    });
  }
});

describe.skipIf(!fs.existsSync(SHARED_CORPUS))('Kerberos logons', () => {
  it('a Kerberos SESSION_SETUP (PsExec, suricata-verify smb2-07) is a session_setup event with the server-assigned id and no user', async () => {
    const cap = `${SHARED_CORPUS}/suricata-verify/smb2-07__20171220_smb_psexec_add_user.pcap`;
    const { events } = await scanEvents(cap);
    const logons = events.filter((e) => e.action === 'session_setup');
    expect(logons.length).toBeGreaterThan(0);
    for (const e of logons) {
      expect(e.user).toBeNull();
      expect(e.status).toBe('STATUS_SUCCESS');
      expect(e.session_id).not.toBe('0x0000000000000000');
    }
  });
});
