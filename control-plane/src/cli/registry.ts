import type { Command } from './command.ts';
import { captureCommand } from './commands/capture.ts';
import { configCommand } from './commands/config.ts';
import { demoCommand } from './commands/demo.ts';
import { interfacesCommand } from './commands/interfaces.ts';
import { monitorCommand } from './commands/monitor.ts';
import { offloadCommand } from './commands/offload.ts';
import { policyCommand } from './commands/policy.ts';
import { processCommand } from './commands/process.ts';
import { saCommand } from './commands/sa.ts';
import { serveCommand } from './commands/serve.ts';
import { spiCommand } from './commands/spi.ts';
import { statsCommand } from './commands/stats.ts';
import { versionCommand } from './commands/version.ts';

/** Every subcommand of `espresso`, in the order `espresso --help` lists them. */
export const commands: readonly Command[] = [
  serveCommand,
  demoCommand,
  saCommand,
  policyCommand,
  spiCommand,
  configCommand,
  statsCommand,
  offloadCommand,
  interfacesCommand,
  captureCommand,
  monitorCommand,
  processCommand,
  versionCommand,
];
