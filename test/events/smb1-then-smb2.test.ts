import { describe, expect, it } from 'vitest';
import { ACCESS, DISPOSITION, fileId } from '../helpers/build';
import { CaptureBuilder, only, scanBuilder, Smb2Client } from '../helpers/conversation';
import { block, smb1 } from './smb1-helpers';

const SID = 0x0000040000000011n;
const ALICE = { user: 'alice', domain: 'CORP', workstation: 'WS01' };
// the multi-protocol SMB1 NEGOTIATE most Windows clients open with before SMB2
const negotiate1 = () => smb1({ command: 0x72, uid: 0 }, block(Buffer.alloc(0), Buffer.from('\x02NT LM 0.12\0\x02SMB 2.002\0\x02SMB 2.???\0', 'latin1')));

/**
 * A connection that opens with the multi-protocol SMB1 NEGOTIATE (most Windows clients) and goes on
 * in SMB2: its end lets go of its SMB1 sessions only, never of the SMB2 sessions it named (found
 * in review: they were removed with the SMB1 UIDs, and their later channels lost user and share).
 */
describe('SMB1 NEGOTIATE, then SMB2 on the same connection', () => {
  it('multichannel: the SMB2 session survives the first channel ending when it opened with an SMB1 NEGOTIATE', () => {
    const cap = new CaptureBuilder();
    const c1 = cap.conversation({ clientPort: 49700 }).handshake();
    c1.c(negotiate1());
    const a = new Smb2Client(c1, SID);
    a.sessionSetup(ALICE);
    a.treeConnect('\\\\10.0.0.12\\share', 5);
    a.create(5, { name: 'big.bin', access: ACCESS.GENERIC_WRITE, disposition: DISPOSITION.CREATE }, fileId(1));
    const c2 = cap.conversation({ clientPort: 49800, server: '10.0.0.13' }).handshake();
    const b = new Smb2Client(c2, SID);
    b.messageId = 100;
    b.sessionSetup(ALICE, { binding: true });
    c1.fin();
    b.write(5, fileId(1), Buffer.alloc(77));
    b.close(5, fileId(1));
    expect(only(scanBuilder(cap), 'write')).toMatchObject([{ bytes: 77, user: 'alice', path: 'big.bin', share: '\\\\10.0.0.12\\share' }]);
  });

  it('single channel: a retired session is still found by a later connection (as without the SMB1 NEGOTIATE)', () => {
    const cap = new CaptureBuilder();
    const c1 = cap.conversation({ clientPort: 49700 }).handshake();
    c1.c(negotiate1());
    const cl1 = new Smb2Client(c1, SID);
    cl1.sessionSetup(ALICE);
    cl1.treeConnect('\\\\10.0.0.12\\share', 5);
    c1.fin();
    const cl2 = new Smb2Client(cap.conversation({ clientPort: 49800 }).handshake(), SID);
    cl2.messageId = 10;
    cl2.create(5, { name: 'later.txt', access: ACCESS.READ_DATA, disposition: DISPOSITION.OPEN }, fileId(1));
    expect(only(scanBuilder(cap), 'create')).toMatchObject([{ src_port: 49800, user: 'alice', share: '\\\\10.0.0.12\\share' }]);
  });
});
