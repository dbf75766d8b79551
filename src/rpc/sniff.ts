import { PTYPE, parsePdu, plausibleHeader } from './pdu';

/**
 * Whether a TCP stream's first bytes look like connection-oriented DCE/RPC, so that DCE/RPC can
 * be decoded on port 135 and on the dynamic ports the endpoint mapper hands out, where no port
 * number says what the stream carries.
 *
 * A stream normally opens with the client's BIND; a capture that starts mid-connection may open
 * with any other PDU, so every connection-oriented type is accepted, but only with a header whose
 * data representation is one NDR defines and a frag_length its type can have. When the whole
 * first PDU is available it must also parse (a BIND's context list must fit, and so on), which
 * keeps random binary that happens to start with 0x05 out.
 */
export function looksLikeDcerpc(buf: Buffer, off: number, end: number): boolean {
  const h = plausibleHeader(buf, off, end);
  if (h === null) return false;
  if (h.ptype === PTYPE.SHUTDOWN || h.ptype === PTYPE.CO_CANCEL || h.ptype === PTYPE.ORPHANED) return false;
  if (end - off < h.fragLength) return true;
  const pdu = parsePdu(buf, off, end);
  if (pdu === null) return false;
  if (pdu.kind === 'bind' && pdu.contexts.length === 0) return false;
  return true;
}
