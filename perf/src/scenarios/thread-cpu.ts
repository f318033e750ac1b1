import { readdirSync, readFileSync } from 'node:fs';

/** CPU time and run-queue wait of a set of this process's threads, from /proc (Linux). */
export interface ThreadTimes {
  /** Seconds on a CPU, summed over the threads. */
  readonly cpu: number;
  /** Seconds the threads were runnable but waited for a CPU (other work had it). */
  readonly waited: number;
  readonly threads: number;
}

/**
 * Sums /proc/self/task/<tid>/schedstat (nanoseconds on CPU, nanoseconds waiting to run) over the
 * threads whose name is `name`: piscina names its threads WorkerThread, so this is the worker pools'
 * datapath threads. Null where /proc does not say.
 */
export function threadTimes(name = 'WorkerThread'): ThreadTimes | null {
  try {
    let cpu = 0;
    let waited = 0;
    let threads = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      let comm: string;
      let stat: string;
      try {
        comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
        if (comm !== name) continue;
        stat = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8');
      } catch {
        continue;
      }
      const [onCpu, wait] = stat.trim().split(/\s+/).map(Number);
      cpu += (onCpu ?? 0) / 1e9;
      waited += (wait ?? 0) / 1e9;
      threads++;
    }
    return { cpu, waited, threads };
  } catch {
    return null;
  }
}

/** The io thread (this one): its CPU and wait, from its own schedstat. */
export function ownThreadTimes(): ThreadTimes | null {
  try {
    const [onCpu, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(/\s+/).map(Number);
    return { cpu: (onCpu ?? 0) / 1e9, waited: (wait ?? 0) / 1e9, threads: 1 };
  } catch {
    return null;
  }
}

export function timesDelta(a: ThreadTimes | null, b: ThreadTimes | null): ThreadTimes | null {
  if (a === null || b === null) return null;
  return { cpu: b.cpu - a.cpu, waited: b.waited - a.waited, threads: b.threads };
}
