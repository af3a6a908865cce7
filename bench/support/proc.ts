import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/*
 * What the benches read of a process from /proc (proc(5)): CPU time and resident memory. Shared
 * so every script counts CPU the same way when it prints a figure beside another script's.
 */

/** Clock ticks per second of /proc's times (USER_HZ; `getconf CLK_TCK`, 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU a process has used so far, in ms; null when it is not (or no longer) on this machine. */
export function readCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis
    // (state is field 3, utime 14 and stime 15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** User + system CPU of these processes so far, in ms (a process that is gone counts 0). */
export function cpuMs(pids: readonly number[]): number {
  return pids.reduce((total, pid) => total + (readCpuMs(pid) ?? 0), 0);
}

/** A process's resident memory (VmRSS), in KB; 0 when it is gone. */
export function readRssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The p-th percentile (nearest rank) of `values`; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
