/**
 * Named-pipe data as the SMB decoders see it, handed to the DCE/RPC stage. The SMB1 and SMB2
 * decoders call these with the bytes a client wrote into (or read from) a pipe handle: WRITE /
 * READ data, IOCTL FSCTL_PIPE_TRANSCEIVE input / output, SMB1 TransactNmPipe data.
 */
import type { ConnRef, OpenFile, Stamp, Tree } from './state';

export interface PipeTap {
  /**
   * bytes the client sent into the pipe (a WRITE request's data, a transceive's input); `conn`:
   * the connection they came on, when it is not the one that opened the handle (multichannel)
   */
  clientData(f: OpenFile, buf: Buffer, off: number, end: number, at: Stamp, conn?: ConnRef): void;
  /** bytes the server returned from the pipe (a READ response's data, a transceive's output) */
  serverData(f: OpenFile, buf: Buffer, off: number, end: number, at: Stamp): void;
  /** the handle was closed, or the capture ended: calls without an answer are reported */
  closed(f: OpenFile): void;
}

/** for scans that do not decode DCE/RPC */
export const NO_PIPES: PipeTap = { clientData() {}, serverData() {}, closed() {} };

/** a DCE/RPC connection-oriented PDU starts with version 5, minor 0 or 1 (C706 12.6.3.1) */
export const looksLikeRpc = (buf: Buffer, at: number, end: number): boolean =>
  at + 2 <= end && buf[at] === 5 && buf[at + 1] <= 1;

/** the tree connect was not captured (midstream): only the bytes can say whether a handle is a pipe */
export const unknownTree = (t: Tree): boolean => t.shareType === null && t.share === null;

/** a tree of named pipes: its TREE_CONNECT answered "pipe", or its name is IPC$ */
export const pipeTree = (t: Tree): boolean =>
  t.shareType !== null ? t.shareType === 'pipe' : t.share !== null && /(^|\\)IPC\$$/i.test(t.share);

/**
 * A handle on a named pipe, whose data is DCE/RPC. When the TREE_CONNECT was not captured,
 * data (buf[start, end)) that starts like a DCE/RPC PDU is taken as pipe data.
 */
export function isPipe(f: OpenFile, buf?: Buffer, start = 0, end = 0): boolean {
  if (!unknownTree(f.tree)) return pipeTree(f.tree);
  return buf !== undefined && looksLikeRpc(buf, start, end);
}
