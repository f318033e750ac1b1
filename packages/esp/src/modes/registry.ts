import { beetMode } from './beet.ts';
import { iptfsMode } from './iptfs.ts';
import type { EspMode } from './mode.ts';
import { transportMode } from './transport.ts';
import { tunnelMode } from './tunnel.ts';

/** Every mode by name: a new mode is one file and one entry here (as Linux registers xfrm mode callbacks). */
const modes = new Map<string, EspMode>([
  [tunnelMode.name, tunnelMode],
  [transportMode.name, transportMode],
  [beetMode.name, beetMode],
  [iptfsMode.name, iptfsMode],
]);

export function espModeFor(name: string): EspMode {
  const mode = modes.get(name);
  if (mode === undefined)
    throw new RangeError(`unknown ESP mode '${name}' (have: ${[...modes.keys()].join(', ')})`);
  return mode;
}

/** Adds a mode (IP-TFS registers itself here). Refuses to replace one. */
export function registerEspMode(mode: EspMode): void {
  if (modes.has(mode.name)) throw new RangeError(`ESP mode '${mode.name}' is already registered`);
  modes.set(mode.name, mode);
}

export function espModeNames(): string[] {
  return [...modes.keys()];
}
