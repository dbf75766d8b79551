/**
 * atsvc (MS-TSCH ATSvc, uuid 1ff70682-0a51-30e8-076d-740be8cee98b): the legacy `at` job service.
 * NetrJobAdd (opnum 0) is how `at \\host 12:00 cmd` and impacket atexec's old path schedule a
 * command. AT_INFO is { DWORD_PTR JobTime; DWORD DaysOfMonth; UCHAR DaysOfWeek; UCHAR Flags;
 * [string] wchar_t* Command }: JobTime is 4 bytes in NDR20, and Command, an embedded pointer,
 * is deferred to after the structure.
 */
import { clockTime, hex32 } from '../ndr';
import { def, Decoder, put, win32Result } from './common';

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

function bits(mask: number, n: number, name: (i: number) => string): string {
  const on: string[] = [];
  for (let i = 0; i < n; i++) if (mask & (2 ** i)) on.push(name(i));
  return on.join(',');
}

const jobAdd: Decoder = def(
  (r, out) => {
    put(out, 'server', r.uniqueWString());
    const ms = r.size(); // DWORD_PTR: 8 bytes in NDR64
    out.job_time = clockTime(ms);
    const dom = r.u32();
    const dow = r.u8();
    const flags = r.u8();
    if (dom) out.days_of_month = bits(dom, 31, (i) => String(i + 1));
    if (dow) out.days_of_week = bits(dow, 7, (i) => WEEKDAYS[i]);
    if (flags) out.flags = hex32(flags);
    if (r.ptr() !== 0) out.command = r.wstring();
  },
  (r, out) => {
    out.job_id = String(r.u32());
    win32Result(r, out);
  },
);

/** NetrJobDel(ServerName, MinJobId, MaxJobId): `at /delete` */
const jobDel: Decoder = def(
  (r, out) => {
    put(out, 'server', r.uniqueWString());
    out.min_job_id = String(r.u32());
    out.max_job_id = String(r.u32());
  },
  (r, out) => win32Result(r, out),
);

export const ATSVC: Record<number, Decoder> = { 0: jobAdd, 1: jobDel };
