/**
 * `SMBTRAIL_DEBUG=1`: where a run spends its time and memory, one stderr line per phase (seconds
 * since the process started; the process's resident memory and this thread's V8 heap in use), so
 * a slow or large batch can be taken apart without a profiler.
 */
export const debugPhase: (what: string) => void = process.env.SMBTRAIL_DEBUG
  ? (what) => {
    const m = process.memoryUsage();
    process.stderr.write(`smbtrail: debug: ${process.uptime().toFixed(3)} s rss ${(m.rss / 2 ** 20).toFixed(0)} MiB heap ${(m.heapUsed / 2 ** 20).toFixed(0)}/${(m.heapTotal / 2 ** 20).toFixed(0)} MiB ${what}\n`);
  }
  : () => {};
