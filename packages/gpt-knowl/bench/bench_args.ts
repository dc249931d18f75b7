/** What the by-hand benches share: a `--name value` option, CPU seconds, GiB, peak RSS. */

export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

/** CPU seconds of this process (user + system): steadier than wall time on a shared machine. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

/** Peak resident memory of this process so far. */
export const peakRss = () => gib(process.resourceUsage().maxRSS * 1024);
