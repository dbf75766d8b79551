/**
 * What the DCE/RPC stage hands to the events stage: one call on one named-pipe handle, from its
 * REQUEST (all fragments) to its RESPONSE or FAULT. `T` is the caller's context for a PDU (the
 * frame, time and wire order of the SMB message that carried it), opaque to this stage.
 */

/** one presentation context accepted (or offered) by BIND / ALTER_CONTEXT */
export interface RpcContext {
  ctxId: number;
  /** abstract syntax, lower-case canonical UUID text */
  uuid: string;
  /** "major.minor" */
  version: string;
  /** well-known name (svcctl, atsvc, …) or null */
  name: string | null;
  /** stubs use the NDR64 transfer syntax (accepted by the ack, or the only one offered) */
  ndr64: boolean;
}

export interface RpcCall<T> {
  callId: number;
  opnum: number;
  /** abstract syntax of the presentation context the REQUEST used; null when the BIND was not seen */
  uuid: string | null;
  /** well-known interface name (svcctl, …), else null */
  iface: string | null;
  /** operation name for the opnum (CreateServiceW, …), else null */
  operation: string | null;
  /** sec_trailer auth_level of the request (0 none, 2 connect, 5 integrity, 6 privacy = stub encrypted) */
  authLevel: number;
  /** REQUEST stub data (all fragments, without auth trailer), null when encrypted or over the bound */
  request: Buffer | null;
  /** RESPONSE stub data, null when none, encrypted or over the bound */
  response: Buffer | null;
  /** NDR data representation: true for little-endian integers (drep[0] & 0x10) */
  littleEndian: boolean;
  /** the stubs are NDR64 (MS-RPCE 2.2.5), not NDR20: Windows-to-Windows binds often negotiate it */
  ndr64: boolean;
  /** null: no answer captured; 0: RESPONSE; otherwise the FAULT status (nca_s_* / Win32 / NTSTATUS) */
  status: number | null;
  fault: boolean;
  /** context of the PDU that completed the request (its last fragment) */
  requestAt: T;
  /** context of the PDU that completed the answer */
  responseAt: T | null;
}

/**
 * Decodes the arguments that matter for one operation from its NDR stubs. Returns null when the
 * operation has no decoder or the stub is too short; never throws on hostile input.
 */
export type ArgDecoder = (request: Buffer | null, response: Buffer | null, littleEndian: boolean) => Record<string, string> | null;
