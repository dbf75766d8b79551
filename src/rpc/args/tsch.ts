/**
 * ITaskSchedulerService (MS-TSCH SchRpc, uuid 86d35949-83c9-4044-b424-db363231fd0c): remote
 * scheduled tasks (schtasks /s, impacket atexec). The command is only inside the task XML of
 * SchRpcRegisterTask, so that XML is scanned for the first Exec action and the principal.
 */
import { NdrReader } from '../ndr';
import { def, Decoder, hresult, joinCapped, MAX_LIST, put } from './common';

/** task XML is scanned, not shown, so it may be longer than an ordinary string */
const MAX_XML_CHARS = 1 << 20;

interface Span {
  start: number;
  end: number;
}

const NAME_END = new Set(['>', '/', ' ', '\t', '\r', '\n']);

/**
 * The content of the first element `name` within the span: a forward scan with indexOf, so its
 * cost is linear on any input, tolerant of attributes, self-closing tags and missing
 * end tags (then the element is ignored). The only regular expressions, on the extracted text, are
 * single-pass entity replacements.
 */
function element(xml: string, name: string, span: Span): Span | null {
  let i = span.start;
  for (;;) {
    i = xml.indexOf(`<${name}`, i);
    if (i === -1 || i >= span.end) return null;
    if (NAME_END.has(xml[i + 1 + name.length] ?? '')) break;
    i += 1 + name.length;
  }
  const gt = xml.indexOf('>', i);
  if (gt === -1 || gt >= span.end) return null;
  if (xml[gt - 1] === '/') return { start: gt + 1, end: gt + 1 };
  const close = xml.indexOf(`</${name}`, gt);
  if (close === -1 || close > span.end) return null;
  return { start: gt + 1, end: close };
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function text(xml: string, s: Span): string {
  let t = xml.slice(s.start, s.end).trim();
  if (t.startsWith('<![CDATA[')) {
    const e = t.indexOf(']]>');
    return t.slice(9, e === -1 ? undefined : e);
  }
  t = t.replace(/&(amp|lt|gt|quot|apos);/g, (_m, k: string) => ENTITIES[k]);
  return t.replace(/&#(x[0-9a-fA-F]{1,6}|[0-9]{1,7});/g, (m, n: string) => {
    const cp = n[0] === 'x' ? parseInt(n.slice(1), 16) : parseInt(n, 10);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
}

/** the keys a task definition gives away: what it runs, with which arguments, as whom */
export function taskXml(xml: string, out: Record<string, string>): void {
  const all = { start: 0, end: xml.length };
  const exec = element(xml, 'Exec', all);
  if (exec) {
    const cmd = element(xml, 'Command', exec);
    const args = element(xml, 'Arguments', exec);
    if (cmd) out.command = text(xml, cmd);
    if (args) out.arguments = text(xml, args);
  }
  const principal = element(xml, 'Principal', all);
  const user = principal && element(xml, 'UserId', principal);
  if (user) out.run_as = text(xml, user);
  const hidden = element(xml, 'Hidden', all);
  if (hidden && text(xml, hidden).toLowerCase() === 'true') out.hidden = 'true';
}

const registerTask = def(
  (r, out) => {
    put(out, 'task_path', r.uniqueWString());
    const xml = r.wstring(MAX_XML_CHARS);
    taskXml(xml, out);
    out.flags = `0x${r.u32().toString(16)}`;
    r.uniqueWString(); // sddl
    out.logon_type = String(r.u32());
    const cCreds = r.u32();
    if (r.ptr() === 0 || cCreds === 0) return;
    // TASK_USER_CRED { userId; password; flags }: only the user is shown
    const n = r.count(3 * r.wide);
    const ptrs: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      ptrs.push([r.ptr(), r.ptr()]);
      r.u32();
    }
    const users: string[] = [];
    for (const [u, p] of ptrs) {
      if (u !== 0) users.push(r.wstring());
      if (p !== 0) r.wstring();
    }
    if (users.length) out.credential_user = users.slice(0, MAX_LIST).join(', ');
  },
  (r, out) => {
    if (r.ptr() !== 0) put(out, 'actual_path', r.wstring());
    if (r.ptr() !== 0) {
      r.structStart();
      r.u32();
      r.u32();
      const node = r.ptr();
      const value = r.ptr();
      if (node !== 0) r.wstring();
      if (value !== 0) r.wstring();
    }
    hresult(r, out);
  },
);

/** SchRpcRun(path, cArgs, [unique, size_is(cArgs)] pArgs, flags, sessionId, [unique] user) */
const run = def(
  (r, out) => {
    out.task_path = r.wstring();
    const cArgs = r.u32();
    if (r.ptr() !== 0 && cArgs !== 0) {
      const n = r.count(r.wide);
      const ptrs: number[] = [];
      for (let i = 0; i < n; i++) ptrs.push(r.ptr());
      const args: string[] = [];
      for (const p of ptrs) if (p !== 0) args.push(r.wstring());
      out.arguments = joinCapped(args.slice(0, MAX_LIST), args.length, ' ');
    }
    r.u32(); // flags
    r.u32(); // sessionId
    put(out, 'user', r.uniqueWString());
  },
  (r, out) => {
    out.instance = r.guid();
    hresult(r, out);
  },
);

/** calls whose first parameter is the task path ([in, string] wchar_t*) */
function pathFirst(more?: (r: NdrReader, out: Record<string, string>) => void): Decoder {
  return def((r, out) => {
    out.task_path = r.wstring();
    more?.(r, out);
  }, hresult);
}

export const TSCH: Record<number, Decoder> = {
  1: registerTask,
  2: pathFirst(), // SchRpcRetrieveTask
  3: pathFirst(), // SchRpcCreateFolder
  11: pathFirst(), // SchRpcStop
  12: run,
  13: pathFirst(), // SchRpcDelete
  14: pathFirst((r, out) => {
    out.new_name = r.wstring();
  }), // SchRpcRename
  19: pathFirst((r, out) => {
    out.enabled = r.u32() ? 'true' : 'false';
  }), // SchRpcEnableTask
};
