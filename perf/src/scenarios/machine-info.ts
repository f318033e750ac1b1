import os from 'node:os';
import { opensslVersion } from '../lib/openssl-speed.ts';
import type { MachineInfo } from '../report/model.ts';

/** The machine a report's figures come from; call `finish` when the run ends for the closing load. */
export function machineInfo(): { info: () => MachineInfo } {
  const cpus = os.cpus();
  const loadStart = os.loadavg()[0] ?? 0;
  const cli = opensslVersion();
  return {
    info: () => ({
      cpu: cpus[0]?.model ?? 'unknown CPU',
      cores: cpus.length,
      node: process.version,
      nodeOpenssl: process.versions.openssl ?? 'unknown',
      opensslCli: cli,
      loadStart,
      loadEnd: os.loadavg()[0] ?? 0,
    }),
  };
}
