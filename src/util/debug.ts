/**
 * `SMBTRAIL_DEBUG=1`: where a run spends its time, one stderr line per phase (seconds since the
 * process started), so a slow batch can be taken apart without a profiler.
 */
export const debugPhase: (what: string) => void = process.env.SMBTRAIL_DEBUG
  ? (what) => { process.stderr.write(`smbtrail: debug: ${process.uptime().toFixed(3)} s ${what}\n`); }
  : () => {};
