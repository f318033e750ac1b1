import type { Command } from './command.ts';
import { versionCommand } from './commands/version.ts';

/** Every subcommand of `espresso`, in the order `espresso --help` lists them. */
export const commands: readonly Command[] = [versionCommand];
