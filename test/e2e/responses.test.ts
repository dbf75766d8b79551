/**
 * Responses paired with their requests, checked against tshark: every CREATE and TREE_CONNECT
 * event's response frame and NT status, and the tree id and share type a TREE_CONNECT got.
 * Lab captures always; the shared corpus's SMB2/3 captures when present.
 */
import * as fs from 'fs';
import { describe, expect, it } from 'vitest';
import { NT_STATUS } from '../../src/smb/names';
import { CAPTURES, hasSmb1, scanEvents, SHARED_CORPUS, truthFiles } from './truth';

interface StatusRow { frame: number; proto: string; nt_status: string; nt_status_name?: string; tid?: string; share_type?: string }
interface Truth { create_status?: StatusRow[]; tree_connect_status?: StatusRow[]; tree_connects?: { proto: string }[]; creates?: { proto: string }[] }

const CODE_OF = new Map(Object.entries(NT_STATUS).map(([k, v]) => [v, Number(k)]));
/** our status (name or 0x-hex) → number, for comparison with tshark's hex */
const code = (s: string | null): number => (s === null ? -1 : CODE_OF.get(s) ?? parseInt(s, 16));
const SHARE_TYPE: Record<string, string> = { '0x01': 'disk', '0x02': 'pipe', '0x03': 'print' };

function check(tf: string) {
  return async () => {
    const truth = JSON.parse(fs.readFileSync(tf, 'utf8')) as Truth;
    const { events } = await scanEvents(tf.slice(0, -'.truth.json'.length));
    const ours = (action: string) => events.filter((e) => e.action === action && e.response_frame !== null);
    const pending = 0x103;
    const createTruth = (truth.create_status ?? []).filter((r) => r.proto === 'smb2' && Number(r.nt_status) !== pending)
      .map((r) => `${r.frame}\t${Number(r.nt_status) >>> 0}`).sort();
    const createOurs = ours('create').filter((e) => e.smb_dialect === null || !e.smb_dialect.startsWith('NT') )
      .map((e) => `${e.response_frame}\t${code(e.status) >>> 0}`).sort();
    expect(createOurs).toEqual(createTruth);
    const treeTruth = (truth.tree_connect_status ?? []).filter((r) => r.proto === 'smb2')
      .map((r) => `${r.frame}\t${Number(r.nt_status) >>> 0}\t${Number(r.nt_status) === 0 ? `${r.tid}\t${SHARE_TYPE[r.share_type ?? ''] ?? null}` : ''}`).sort();
    const treeOurs = ours('tree_connect')
      .map((e) => `${e.response_frame}\t${code(e.status) >>> 0}\t${e.status === 'STATUS_SUCCESS' ? `${e.tree_id}\t${e.share_type}` : ''}`).sort();
    expect(treeOurs).toEqual(treeTruth);
  };
}

const smb2Only = (tf: string): boolean => !hasSmb1(JSON.parse(fs.readFileSync(tf, 'utf8')));

describe('responses paired with requests (lab captures)', () => {
  for (const tf of truthFiles(CAPTURES).filter(smb2Only)) it(tf.slice(CAPTURES.length + 1), check(tf));
});

describe.skipIf(!fs.existsSync(SHARED_CORPUS))('responses paired with requests (shared corpus, SMB2/3)', () => {
  for (const tf of truthFiles(SHARED_CORPUS).filter(smb2Only)) it(tf.slice(SHARED_CORPUS.length + 1), check(tf));
});
