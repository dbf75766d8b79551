/**
 * Read and write totals whose answers come after the CLOSE or LOGOFF request or across a hole, on public captures
 * (shared corpus, skipped when absent). Each expectation was read off tshark by hand:
 * `tshark -r FILE -Y 'frame.number==N' -V` for the request and its response.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { scanEvents, SHARED_CORPUS } from './truth';

interface Row { frame: number; action: 'read' | 'write'; path: string | null; bytes: number; status: string | null; response_frame: number | null }

const CASES: { file: string; why: string; rows: Row[] }[] = [
  {
    file: 'suricata-verify/smb-length-5786__input.pcap',
    why: 'compound CREATE+READ+CLOSE (macOS Finder): Read Responses 311 and 618 carry 60 bytes each; 36 answers STATUS_FILE_CLOSED',
    rows: [
      { frame: 35, action: 'read', path: ':AFP_AfpInfo', bytes: 0, status: 'STATUS_FILE_CLOSED', response_frame: 36 },
      { frame: 310, action: 'read', path: 'tata.txt:AFP_AfpInfo', bytes: 60, status: 'STATUS_SUCCESS', response_frame: 311 },
      { frame: 614, action: 'read', path: 'toto.txt:AFP_AfpInfo', bytes: 60, status: 'STATUS_SUCCESS', response_frame: 618 },
    ],
  },
  {
    file: 'suricata-verify/smb2-delete__input.pcap',
    why: 'compound reads on a stream that does not exist: frames 55 and 94 answer STATUS_OBJECT_NAME_NOT_FOUND',
    rows: [
      { frame: 54, action: 'read', path: ':AFP_AfpInfo', bytes: 0, status: 'STATUS_OBJECT_NAME_NOT_FOUND', response_frame: 55 },
      { frame: 93, action: 'read', path: ':AFP_AfpInfo', bytes: 0, status: 'STATUS_OBJECT_NAME_NOT_FOUND', response_frame: 94 },
    ],
  },
  {
    file: 'suricata-verify/smb-eicar-andx__smbandx.pcap',
    why: 'SMB1 LOCKING_ANDX+WRITE_ANDX+CLOSE chain: frame 24 answers the write of 68 bytes (the EICAR file)',
    rows: [{ frame: 22, action: 'write', path: 'test.txt', bytes: 68, status: 'STATUS_SUCCESS', response_frame: 24 }],
  },
  {
    file: 'suricata-verify/smb-filename__input.pcap',
    why: 'SMB1 LOGOFF_ANDX sent before the WRITE_ANDX response (frame 89, 512 bytes)',
    rows: [{ frame: 81, action: 'write', path: 'samr', bytes: 512, status: 'STATUS_SUCCESS', response_frame: 89 }],
  },
  {
    file: 'suricata-verify/bug-8629__input.pcap',
    why: 'one-sided capture, CLOSEs before the end: unanswered writes count the bytes they carried (116, 4 + 19040, 116)',
    rows: [
      { frame: 16, action: 'write', path: null, bytes: 116, status: null, response_frame: null },
      { frame: 46, action: 'write', path: null, bytes: 19044, status: null, response_frame: null },
      { frame: 117, action: 'write', path: null, bytes: 116, status: null, response_frame: null },
    ],
  },
  {
    file: 'suricata-verify/smb2-frames-gap-payload-logging__smb2-peter-minus-p191.pcap',
    why: 'a READ response with a hole in its data: the rest arrived in frame 191, the hole was proved lost by the empty ACK 193',
    rows: [{ frame: 189, action: 'read', path: 'file87.txt', bytes: 5856, status: 'STATUS_SUCCESS', response_frame: 191 }],
  },
  {
    file: 'suricata-verify/smb2-frames-gap-payload-logging-02__smb2-peter-minus-p191-p192.pcap',
    why: 'the same with the response\'s end lost too: its last captured bytes are frame 190',
    rows: [{ frame: 189, action: 'read', path: 'file87.txt', bytes: 5856, status: 'STATUS_SUCCESS', response_frame: 190 }],
  },
  {
    file: 'zeek/raw_ntlm_in_smb.pcap',
    why: 'SMB1 NT_CREATE_ANDX+READ_ANDX chain whose open fails (frame 159): the read is on the file the chain opens',
    rows: [{ frame: 158, action: 'read', path: 'Sample Pictures.lnk:com.apple.LaunchServices.OpenWith', bytes: 0, status: 'STATUS_OBJECT_NAME_NOT_FOUND', response_frame: 159 }],
  },
];

describe.skipIf(!fs.existsSync(SHARED_CORPUS))('read/write totals answered after CLOSE or LOGOFF (shared corpus)', () => {
  for (const c of CASES) {
    it(`${c.file}: ${c.why}`, async () => {
      const { events } = await scanEvents(path.join(SHARED_CORPUS, c.file));
      const frames = new Set(c.rows.map((r) => `${r.frame}/${r.action}`));
      const got = events.filter((e) => frames.has(`${e.frame}/${e.action}`))
        .map((e) => ({ frame: e.frame, action: e.action, path: e.path, bytes: e.bytes, status: e.status, response_frame: e.response_frame }));
      expect(got).toEqual(c.rows);
    });
  }
});
