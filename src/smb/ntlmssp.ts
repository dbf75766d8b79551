/**
 * NTLMSSP AUTHENTICATE (MS-NLMP 2.2.1.3) found inside a security blob. The blob is usually
 * SPNEGO (GSS-API DER) but may be raw NTLMSSP; rather than walk the DER we look for the
 * NTLMSSP signature, which is how Wireshark's heuristic finds it too and survives odd encodings.
 */
const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
const MESSAGE_AUTHENTICATE = 3;
const NEGOTIATE_UNICODE = 0x1;

export interface NtlmIdentity { user: string; domain: string; workstation: string }

function field(blob: Buffer, base: number, at: number, unicode: boolean): string | null {
  if (at + 8 > blob.length) return null;
  const len = blob.readUInt16LE(at), off = blob.readUInt32LE(at + 4);
  if (len === 0) return '';
  const s = base + off;
  if (off > blob.length || s + len > blob.length) return null;
  return unicode ? blob.toString('utf16le', s, s + (len & ~1)) : blob.toString('latin1', s, s + len);
}

export function ntlmAuthenticate(blob: Buffer): NtlmIdentity | null {
  let at = blob.indexOf(SIGNATURE);
  // several NTLMSSP messages can sit in one blob only in broken or hostile input: take the AUTHENTICATE
  for (let tries = 0; at >= 0 && tries < 4; tries++) {
    if (at + 64 <= blob.length && blob.readUInt32LE(at + 8) === MESSAGE_AUTHENTICATE) {
      const flags = blob.readUInt32LE(at + 60);
      const unicode = (flags & NEGOTIATE_UNICODE) !== 0;
      const domain = field(blob, at, at + 28, unicode);
      const user = field(blob, at, at + 36, unicode);
      const workstation = field(blob, at, at + 44, unicode);
      if (user === null || domain === null) return null;
      return { user, domain, workstation: workstation ?? '' };
    }
    at = blob.indexOf(SIGNATURE, at + 8);
  }
  return null;
}
