/**
 * Named-pipe data as the SMB decoders see it, handed to the DCE/RPC stage. The SMB1 and SMB2
 * decoders call these with the bytes a client wrote into (or read from) a pipe handle: WRITE /
 * READ data, IOCTL FSCTL_PIPE_TRANSCEIVE input / output, SMB1 TransactNmPipe data.
 */
import type { OpenFile, Stamp } from './state';

export interface PipeTap {
  /** bytes the client sent into the pipe (a WRITE request's data, a transceive's input) */
  clientData(f: OpenFile, buf: Buffer, off: number, end: number, at: Stamp): void;
  /** bytes the server returned from the pipe (a READ response's data, a transceive's output) */
  serverData(f: OpenFile, buf: Buffer, off: number, end: number, at: Stamp): void;
  /** the handle was closed, or the capture ended: calls without an answer are reported */
  closed(f: OpenFile): void;
}

/** for scans that do not decode DCE/RPC */
export const NO_PIPES: PipeTap = { clientData() {}, serverData() {}, closed() {} };
