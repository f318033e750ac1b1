import type { FourNamespaces } from './four-namespaces.ts';

/** A tunnel implementation run on the two gateways of a FourNamespaces topology. */
export interface Forwarder {
  readonly name: string;
  /** What the tunnel carries: cipher, encapsulation, MTU of its inside device. */
  readonly description: string;
  /** The tools it needs that are missing (empty: it can run). */
  missing(): string[];
  /** Debian packages that provide its tools. */
  readonly packages: readonly string[];
  /** Starts both gateways; resolves once the client reaches the server through the tunnel. */
  start(topology: FourNamespaces, workDir: string): Promise<void>;
  /** Process ids whose CPU counts as the forwarder's (both gateways). */
  pids(): number[];
  stop(): Promise<void>;
}

/** Waits until `ok()` holds, trying every 200 ms; throws with `what` after `ms`. */
export async function waitFor(ok: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
