/**
 * What the events stage remembers between messages: sessions (with their user, trees and open
 * files), keyed so that ids never leak between servers, and the time/frame of a packet.
 */
import type { Packet } from '../capture/packet';
import { oldestIdle, oldestKey } from '../util/oldest';

/** When and where in the capture something happened (copied out of the reused Packet). */
/** `capture` is the file the frame belongs to (several files form one stream with --stitch) */
export interface Stamp { sec: number; ns: number; digits: number; frame: number; capture: string }

export const stampOf = (p: Packet, capture: string): Stamp => ({ sec: p.tsSec, ns: p.tsNs, digits: p.tsDigits, frame: p.frame, capture });

export interface Tree {
  id: number;
  /** the id as events show it, made once: every event of the tree carries it */
  hexId: string;
  /** UNC path as the client sent it; null when the TREE_CONNECT was not captured */
  share: string | null;
  shareType: 'disk' | 'pipe' | 'print' | null;
  /** named by a request since it was last passed over for eviction (see addTree) */
  used: boolean;
}

export const hex8 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

export const newTree = (id: number, share: string | null, shareType: Tree['shareType']): Tree => ({ id, hexId: hex8(id), share, shareType, used: false });

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
  /** the id it is kept under in its session's `files` (see openFile) */
  id?: string;
  /** READ/WRITE requests not yet answered (SMB2), and whether its CLOSE was answered meanwhile */
  inFlight?: number;
  closeAnswered?: boolean;
  /** the callback each of those answers runs (made once per handle) */
  settle?: () => void;
  /**
   * named by a request since it was last passed over for eviction: a handle still in use gets a
   * second chance and goes to the back of the queue (see openFile)
   */
  used?: boolean;
}

/**
 * Every handle with all its fields from the start: one hidden class, so the code reading them
 * is not deoptimised when a handle first gets a read in flight or a close answered.
 */
export function newOpenFile(path: string | null, tree: Tree, session: Session, conn: ConnRef): OpenFile {
  return { path, tree, session, conn, read: null, write: null, closed: false, opened: undefined, id: undefined, inFlight: undefined, closeAnswered: undefined, settle: undefined, used: false };
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
  /** UTF-16 units of the paths in `files` (see openFile) */
  pathChars: number;
  encryptedReported: boolean;
  /** the handles of all sessions of the scan together (see openFile); none once the session is removed */
  budget?: FileBudget;
  /** ids of the live connections that named it (SessionTable.attach) */
  conns: number[];
}

/**
 * Sessions of a capture (beyond: `sessions_evicted`, the oldest retired one first, else the
 * oldest live one). A live session has a connection, and flows are bounded at as many (8,192);
 * each session costs ~1 KB with its (small) tables and names. 20 SMB1 connections using all
 * 65,535 UIDs each (351 MB) peaked at 164.5 MiB with 50,000 sessions, 135-138 MiB with 16,384,
 * 117-122 MiB with 8,192.
 */
export const MAX_SESSIONS = 8_192;

/**
 * Sessions kept after all their connections ended (see SessionTable.detach): enough for the
 * channels of a multichannel session seen closing one after another, a few MB at most.
 */
export const MAX_RETIRED_SESSIONS = 1_024;

/** open handles, their path characters and trees, all sessions of a scan together */
export interface FileBudget { files: number; chars: number; trees: number }

/** Sessions of one scan. Session binding (multichannel) makes one session reachable from several servers' addresses. */
export class SessionTable {
  private readonly byKey = new Map<string, Session>();
  /** session id → sessions with that id, for channels whose binding was not captured */
  private readonly byId = new Map<string, Session[]>();
  /** every key a session is reachable by, so that removing it does not scan the table */
  private readonly keysOf = new Map<Session, string[]>();
  /** shared by every session of the table */
  readonly budget: FileBudget = { files: 0, chars: 0, trees: 0 };
  /** sessions whose connections have all ended, oldest first (see endConnection) */
  private readonly retired = new Map<Session, true>();
  /**
   * connection id → the sessions it named. Kept here rather than by the connections: only
   * sessions the table holds are listed, so a connection naming every one of 65,535 SMB1 UIDs
   * (or a million SMB2 ids) holds no more than the table does (20 such connections, each
   * remembering its own, kept 200,000 evicted sessions alive and took the worker's whole heap).
   */
  private readonly byConn = new Map<number, Set<Session>>();

  /**
   * `onEvict`: a live session let go beyond `maxSessions` (counted by the caller); `onRetire`: a
   * session let go beyond `maxRetired` after its connections ended. Both must report its handles.
   */
  constructor(
    private readonly maxSessions = 50_000,
    private readonly onEvict: (s: Session) => void = () => {},
    private readonly maxRetired = MAX_RETIRED_SESSIONS,
    private readonly onRetire: (s: Session) => void = () => {},
  ) {}

  /**
   * Bumped whenever a lookup could give another answer (a session added, bound or removed):
   * a connection may keep the session its last message named while this has not changed.
   */
  generation = 0;

  get size(): number { return this.keysOf.size; }

  /** whether the session is still kept (not logged off, evicted or retired away) */
  has(s: Session): boolean { return this.keysOf.has(s); }

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
      id, serverIp, user: null, domain: null, workstation: null, trees: new Map(), files: new Map(), pathChars: 0, encryptedReported: false,
      budget: this.budget, conns: [],
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

  /** connection `conn` names the session (a request, a logon, a binding) */
  attach(s: Session, conn: number): void {
    if (s.conns.length === 1 && s.conns[0] === conn) return;
    if (!this.keysOf.has(s) || s.conns.includes(conn)) return;
    s.conns.push(conn);
    let set = this.byConn.get(conn);
    if (set === undefined) this.byConn.set(conn, (set = new Set()));
    set.add(s);
    this.retired.delete(s);
  }

  /** the sessions connection `conn` named that the table still holds */
  sessionsOf(conn: number): Session[] {
    const set = this.byConn.get(conn);
    return set === undefined ? [] : [...set];
  }

  /**
   * Connection `conn` ended. A session none of whose connections is left is retired: still
   * found (a channel whose binding was not captured may name it later), but beyond `maxRetired`
   * the oldest retired session is let go. An SMB2 session outlives a connection only through
   * another channel, so without this 30,000 short connections of one server kept 30,000
   * sessions (and their open handles) until the capture's end.
   */
  endConnection(conn: number): void {
    const set = this.byConn.get(conn);
    if (set === undefined) return;
    this.byConn.delete(conn);
    for (const s of set) {
      const i = s.conns.indexOf(conn);
      if (i >= 0) s.conns.splice(i, 1);
      if (s.conns.length > 0 || !this.keysOf.has(s)) continue;
      this.retired.set(s, true);
      if (this.retired.size <= this.maxRetired) continue;
      const old = oldestKey(this.retired) as Session;
      this.onRetire(old);
      this.remove(old);
    }
  }

  remove(s: Session): void {
    const keys = this.keysOf.get(s);
    if (!keys) return;
    this.retired.delete(s);
    this.generation++;
    // its handles are let go with it (their totals were reported by the caller)
    if (s.budget) {
      s.budget.files -= s.files.size;
      s.budget.chars -= s.pathChars;
      s.budget.trees -= s.trees.size;
      s.budget = undefined;
    }
    this.keysOf.delete(s);
    for (const c of s.conns) this.byConn.get(c)?.delete(s);
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

  /** at the bound: a retired session goes before any live one (found in review) */
  private evictOldest(): void {
    const retired = oldestKey(this.retired);
    if (retired) { this.onRetire(retired); this.remove(retired); return; }
    const first = oldestKey(this.keysOf);
    if (first) { this.onEvict(first); this.remove(first); }
  }
}

/**
 * Longest file name kept, in UTF-16 units. NTFS paths reach 32,767; a name many times longer than
 * any real one is cut (what is kept says how long it was) so that thousands of open handles and
 * unanswered CREATEs with 64 KB names cannot hold gigabytes (fuzz trial: 20,000 handles, 835 MB).
 */
export const MAX_NAME_CHARS = 4096;

/**
 * a path as kept: without leading backslashes; beyond MAX_NAME_CHARS, its start and its end
 * (the name and extension the rules look at: a long path must not hide `evil.exe` from them),
 * copied into a string of its own (a slice would keep the whole original alive)
 */
export function filePath(s: string): string {
  const p = s.replace(/^\\+/, '');
  if (p.length <= MAX_NAME_CHARS) return p;
  const half = MAX_NAME_CHARS >> 1;
  const copy = (t: string): string => Buffer.from(t, 'utf16le').toString('utf16le');
  return `${copy(p.slice(0, half))}…[cut: ${p.length} characters]…${copy(p.slice(p.length - half))}`;
}

/**
 * Handles one session keeps open, and the characters of their paths. Beyond either, the oldest
 * handle not named by a request since it was last passed over is let go (its totals reported,
 * `open_files_evicted` counted): handles never closed (lost CLOSEs, a hostile client) must not
 * hold the scan's memory, while a handle still read or written keeps its name. Half of
 * MAX_FILES_TOTAL: one session that never closes cannot take the whole budget from the others
 * (beyond the total, the session opening a handle lets go of its own). 8,192 handles of ordinary
 * names take a few MB; 1M characters is 256 names of MAX_NAME_CHARS.
 */
export const MAX_FILES_PER_SESSION = 8_192;
export const MAX_PATH_CHARS_PER_SESSION = 1 << 20;

/**
 * The same for all sessions of a scan together: 1,000 sessions of 1,000 handles never closed
 * (a 484 MB capture) needed more than the worker's 256 MB and the capture was lost. Beyond
 * either, the session opening a handle lets go of its own oldest (as above). 16,384 ordinary
 * handles take ~5 MB of objects and names; V8 keeps about twice the live heap committed when
 * such long-lived objects are evicted and replaced all the time, so this and MAX_PENDING_TOTAL
 * set the peak of a flood: 1,000 connections whose answers all arrive out of order (484 MB),
 * peak RSS of the whole process with 32,768 handles and 8,192 requests 158-166 MiB, with 16,384
 * and 4,096 138-144 MiB (24,576: 144-147). 4 M characters is 8 MB.
 */
export const MAX_FILES_TOTAL = 16_384;
export const MAX_PATH_CHARS_TOTAL = 4 << 20;

/**
 * Trees one session keeps, and all sessions together. A session connects to a handful of shares;
 * without a bound one that connected 500,000 (or named 1,000,000 tree ids never connected, each
 * remembered as a tree of unknown share) took 161 / 242 MiB and, further on, the worker's whole
 * heap. Beyond either, the session adding a tree lets go of its own oldest tree no request has
 * named since it was last passed over (`trees_evicted`); a later request on it sees a tree of
 * unknown share, and handles opened on it keep their share.
 */
export const MAX_TREES_PER_SESSION = 1_024;
export const MAX_TREES_TOTAL = 16_384;

/** remembers a tree of the session; returns how many of its trees were let go */
export function addTree(s: Session, t: Tree): number {
  const prior = s.trees.get(t.id);
  s.trees.set(t.id, t);
  const b = s.budget;
  if (prior !== undefined) return 0;
  if (b) b.trees++;
  let gone = 0;
  // as for handles (openFile): a second chance for a tree in use, never the one being added
  while (s.trees.size > 1 && (s.trees.size > MAX_TREES_PER_SESSION || (b !== undefined && b.trees > MAX_TREES_TOTAL))) {
    removeTree(s, oldestIdle(s.trees, t) as number);
    gone++;
  }
  return gone;
}

/** forgets a tree (TREE_DISCONNECT, eviction) */
export function removeTree(s: Session, id: number): void {
  if (s.trees.delete(id) && s.budget) s.budget.trees--;
}

/**
 * remembers a handle the server gave; returns the handles let go (to report their totals): the
 * one this id named before (its CLOSE was not captured), and the oldest beyond the bounds
 */
export function openFile(s: Session, id: string, f: OpenFile): OpenFile[] {
  const prior = closeFile(s, id);
  s.files.set(id, f);
  f.id = id;
  const chars = f.path?.length ?? 0;
  s.pathChars += chars;
  const b = s.budget;
  if (b) { b.files++; b.chars += chars; }
  let out: OpenFile[] | null = prior !== undefined && prior !== f ? [prior] : null;
  while (s.files.size > 1 && (s.files.size > MAX_FILES_PER_SESSION || s.pathChars > MAX_PATH_CHARS_PER_SESSION
    || (b !== undefined && (b.files > MAX_FILES_TOTAL || b.chars > MAX_PATH_CHARS_TOTAL)))) {
    // the handle being opened is never the one let go (a READ naming a handle whose CREATE was
    // not captured would report into a handle no one holds)
    (out ??= []).push(closeFile(s, oldestIdle(s.files, f) as string) as OpenFile);
  }
  return out ?? NONE;
}
const NONE: OpenFile[] = [];

/** forgets a handle by the id it is kept under (a related CLOSE names it by all-FF), if still kept */
export function forgetFile(s: Session, f: OpenFile): void {
  if (f.id !== undefined && s.files.get(f.id) === f) closeFile(s, f.id);
}

/** forgets a handle (CLOSE, eviction); the handle, if it was open */
export function closeFile(s: Session, id: string): OpenFile | undefined {
  const f = s.files.get(id);
  if (f === undefined) return undefined;
  s.files.delete(id);
  const chars = f.path?.length ?? 0;
  s.pathChars -= chars;
  if (s.budget) { s.budget.files--; s.budget.chars -= chars; }
  return f;
}
