import { readFileSync } from 'node:fs';
import { run } from './shell.ts';

let ticksPerSecond = 0;

/** The kernel's clock ticks per second (USER_HZ), in which /proc/<pid>/stat counts CPU time. */
function clockTicks(): number {
  if (ticksPerSecond === 0) {
    try {
      ticksPerSecond = Number(run('getconf', ['CLK_TCK']).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * CPU seconds (user + system) a process has used, all its threads together: fields 14 and 15 of
 * /proc/<pid>/stat. 0 for a process that is gone.
 */
export function processCpuSeconds(pid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields from the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** Measures the CPU a set of processes used while `task` ran, in cores (CPU seconds per second). */
export function cpuDuring<T>(
  pids: readonly number[],
  task: () => T,
): { result: T; cores: number; seconds: number } {
  const before = pids.map(processCpuSeconds);
  const t0 = performance.now();
  const result = task();
  const seconds = (performance.now() - t0) / 1000;
  const used = pids.reduce((sum, pid, i) => sum + processCpuSeconds(pid) - before[i]!, 0);
  return { result, cores: seconds > 0 ? used / seconds : 0, seconds };
}
