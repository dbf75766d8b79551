/**
 * What the events stage remembers between messages: sessions (with their user, trees and open
 * files), keyed so that ids never leak between servers, and the time/frame of a packet.
 */
import type { Packet } from '../capture/packet';

/** When and where in the capture something happened (copied out of the reused Packet). */
/** `capture` is the file the frame belongs to (several files form one stream with --stitch) */
export interface Stamp { sec: number; ns: number; digits: number; frame: number; capture: string }

export const stampOf = (p: Packet, capture: string): Stamp => ({ sec: p.tsSec, ns: p.tsNs, digits: p.tsDigits, frame: p.frame, capture });

export interface Tree {
  id: number;
  /** UNC path as the client sent it; null when the TREE_CONNECT was not captured */
  share: string | null;
  shareType: 'disk' | 'pipe' | 'print' | null;
}

/** Bytes moved through one handle, reported once its CLOSE is answered (or when the capture ends). */
export interface Transfer {
  first: Stamp;
  /** the connection of the first operation (with multichannel, not always the handle's own) */
  conn: ConnRef;
  /** wire order of the first operation */
  seq: number;
  responseFrame: number | null;
  bytes: number;
  /** first status seen, upgraded to success if any operation succeeded */
  status: number | null;
}

export interface OpenFile {
  /** null when the CREATE was not captured */
  path: string | null;
  tree: Tree;
  session: Session;
  /** the connection the CREATE came on: endpoints for the read/write events */
  conn: ConnRef;
  read: Transfer | null;
  write: Transfer | null;
  /** closed before its CREATE response arrived (a compound CREATE+CLOSE) */
  closed: boolean;
  /** SMB1: the server gave it a FID (an open chained with a read can fail) */
  opened?: boolean;
}

export interface ConnRef {
  clientIp: string; clientPort: number; serverIp: string; serverPort: number; dialect: string | null;
}

export interface Session {
  /** "0x" + 16 hex digits */
  id: string;
  serverIp: string;
  user: string | null;
  domain: string | null;
  workstation: string | null;
  trees: Map<number, Tree>;
  files: Map<string, OpenFile>;
  encryptedReported: boolean;
}

/** Sessions of one scan. Session binding (multichannel) makes one session reachable from several servers' addresses. */
export class SessionTable {
  private readonly byKey = new Map<string, Session>();
  /** session id → sessions with that id, for channels whose binding was not captured */
  private readonly byId = new Map<string, Session[]>();
  /** every key a session is reachable by, so that removing it does not scan the table */
  private readonly keysOf = new Map<Session, string[]>();

  constructor(private readonly maxSessions = 50_000, private readonly onEvict: (s: Session) => void = () => {}) {}

  /**
   * Bumped whenever a lookup could give another answer (a session added, bound or removed):
   * a connection may keep the session its last message named while this has not changed.
   */
  generation = 0;

  get size(): number { return this.keysOf.size; }

  /** `scope` is the server address (SMB2 sessions span its connections) or a connection (SMB1 UIDs) */
  find(scope: string, id: string, borrow = true): Session | undefined {
    const s = this.byKey.get(`${scope}|${id}`);
    if (s || !borrow) return s;
    const same = this.byId.get(id);
    // only an unambiguous id may be borrowed from another address (a bound channel we did not see bind)
    return same && same.length === 1 ? same[0] : undefined;
  }

  /**
   * The session `id` at `scope`, created when unknown. `borrow`: an unknown scope may use the one
   * session with that id elsewhere (a channel whose binding was not captured). `index`: the new
   * session can be borrowed that way (SMB2; not SMB1, whose UIDs are per connection).
   */
  get(scope: string, id: string, serverIp = scope, borrow = true, index = true): Session {
    const found = this.find(scope, id, borrow);
    if (found) return found;
    if (this.keysOf.size >= this.maxSessions) this.evictOldest();
    const s: Session = {
      id, serverIp, user: null, domain: null, workstation: null, trees: new Map(), files: new Map(), encryptedReported: false,
    };
    this.generation++;
    this.byKey.set(`${scope}|${id}`, s);
    this.keysOf.set(s, [`${scope}|${id}`]);
    if (index) {
      const list = this.byId.get(id);
      if (list) list.push(s); else this.byId.set(id, [s]);
    }
    return s;
  }

  /** a channel bound to an existing session on another address (SMB 3 multichannel) */
  bind(serverIp: string, s: Session): void {
    const key = `${serverIp}|${s.id}`;
    if (this.byKey.get(key) === s) return;
    this.generation++;
    this.byKey.set(key, s);
    this.keysOf.get(s)?.push(key);
  }

  remove(s: Session): void {
    const keys = this.keysOf.get(s);
    if (!keys) return;
    this.generation++;
    this.keysOf.delete(s);
    for (const k of keys) if (this.byKey.get(k) === s) this.byKey.delete(k);
    const list = this.byId.get(s.id);
    if (list) {
      const rest = list.filter((x) => x !== s);
      if (rest.length) this.byId.set(s.id, rest); else this.byId.delete(s.id);
    }
  }

  all(): Session[] {
    return [...this.keysOf.keys()];
  }

  private evictOldest(): void {
    const first = this.keysOf.keys().next().value as Session | undefined;
    if (first) { this.onEvict(first); this.remove(first); }
  }
}
