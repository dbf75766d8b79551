/**
 * netlogon (MS-NRPC, uuid 12345678-1234-abcd-ef00-01234567cffb): the secure-channel handshake.
 * Decoded for Zerologon (CVE-2020-1472): the exploit sends NetrServerAuthenticate2/3 with a
 * client credential of eight zero bytes until one is accepted (1 in 256 tries), then
 * NetrServerPasswordSet2 with a zero authenticator to empty the DC's machine password. A real
 * client's credential is computed from the session key: eight zero bytes are not seen otherwise.
 * The new password itself is never shown, only whether it is all zeros.
 */
import { NdrReader } from '../ndr';
import { def, ntResult, Out, put } from './common';

/** NETLOGON_SECURE_CHANNEL_TYPE ([MS-NRPC] 2.2.1.3.13) */
const CHANNEL: Record<number, string> = {
  0: 'NullSecureChannel', 1: 'MsvApSecureChannel', 2: 'WorkstationSecureChannel', 3: 'TrustedDnsDomainSecureChannel',
  4: 'TrustedDomainSecureChannel', 5: 'UasServerSecureChannel', 6: 'ServerSecureChannel', 7: 'CdcServerSecureChannel',
};

const hex = (b: Buffer): string => b.toString('hex');

/** PrimaryName ([unique, string]), AccountName, SecureChannelType, ComputerName: Authenticate2/3, PasswordSet(2) */
function channelHead(r: NdrReader, out: Out): void {
  put(out, 'server', r.uniqueWString());
  put(out, 'account', r.wstring());
  const t = r.u16();
  out.channel_type = CHANNEL[t] ?? String(t);
  put(out, 'computer_name', r.wstring());
}

/** NetrServerReqChallenge: PrimaryName, ComputerName, ClientChallenge */
const reqChallenge = def((r, out) => {
  put(out, 'server', r.uniqueWString());
  put(out, 'computer_name', r.wstring());
  out.client_challenge = hex(r.bytes(8));
}, (r, out) => {
  out.server_challenge = hex(r.bytes(8));
  ntResult(r, out);
});

/** NetrServerAuthenticate2/3: ClientCredential, NegotiateFlags; the answer's flags (and RID, 3) */
function authenticate(withRid: boolean) {
  return def((r, out) => {
    channelHead(r, out);
    out.client_credential = hex(r.bytes(8));
    out.negotiate_flags = `0x${r.u32().toString(16).padStart(8, '0')}`;
  }, (r, out) => {
    r.bytes(8);
    r.u32();
    if (withRid) put(out, 'account_rid', r.u32());
    ntResult(r, out);
  });
}

/** NETLOGON_AUTHENTICATOR: Credential (8 bytes), Timestamp; 4-aligned for its DWORD ([MS-NRPC] 2.2.1.1.5) */
function authenticator(r: NdrReader, out: Out): void {
  r.align(4);
  out.authenticator_credential = hex(r.bytes(8));
  r.u32();
}

/**
 * NetrServerPasswordSet2 (NL_TRUSTED_PASSWORD, 516 bytes) and NetrServerPasswordSet
 * (ENCRYPTED_NT_OWF_PASSWORD, 16 bytes): the new password is shown only as all zeros or set
 */
function passwordSet(size: number) {
  return def((r, out) => {
    channelHead(r, out);
    authenticator(r, out);
    out.new_password = r.bytes(size).every((b) => b === 0) ? 'all zeros' : 'set';
  }, (r, out) => {
    // the server's return authenticator: the request's is the one that tells
    r.align(4);
    r.bytes(8);
    r.u32();
    ntResult(r, out);
  });
}

export const NETLOGON: Record<number, ReturnType<typeof def>> = {
  4: reqChallenge,
  6: passwordSet(16),
  15: authenticate(false),
  26: authenticate(true),
  30: passwordSet(516),
};
