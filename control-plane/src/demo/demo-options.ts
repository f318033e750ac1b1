import { MAX_WORKERS } from '@espresso/workers';
import { type ListenAddress, parseListenAddress } from '../api/listen-address.ts';
import { parseSizes, type SizeMix } from './demo-traffic.ts';

/** What `espresso demo` runs: two gateways on loopback, traffic from the built-in generator. */
export interface DemoOptions {
  /** Packets per second offered to gateway A's inside, or 'max' (as fast as the loop keeps up). */
  readonly rate: number | 'max';
  /** Inner packet sizes in bytes (IPv4 + UDP + payload), one or a weighted mix. */
  readonly size: SizeMix;
  /** Datapath worker threads of each gateway. */
  readonly workers: number;
  /** Stop after this many seconds; null runs until SIGINT or SIGTERM. */
  readonly duration: number | null;
  /** Gateway A's HTTP API; gateway B listens on the next port (or a free one when this is 0). */
  readonly listen: ListenAddress;
  /** UDP ports of the two gateways' outside on 127.0.0.1; 0 picks a free one. */
  readonly outsidePorts: readonly [number, number];
  /** Redraw a full-screen view (a terminal), or print one plain line per second. */
  readonly view: 'screen' | 'lines';
}

/** Smallest inner packet: IPv4 (20) + UDP (8) + the generator's 16-byte stamp. */
export const MIN_SIZE = 44;
/** Largest inner packet: an Ethernet MTU. */
export const MAX_SIZE = 1500;
export const DEFAULT_LISTEN: ListenAddress = { host: '127.0.0.1', port: 8470 };

/** A bad option: `option` names it as typed on the command line. */
export class DemoOptionError extends Error {
  readonly option: string;
  constructor(option: string, message: string) {
    super(`--${option}: ${message}`);
    this.name = 'DemoOptionError';
    this.option = option;
  }
}

/** The options as strings, as parseArgs returns them (undefined: not given). */
export interface DemoOptionText {
  readonly rate?: string | undefined;
  readonly size?: string | undefined;
  readonly workers?: string | undefined;
  readonly duration?: string | undefined;
  readonly listen?: string | undefined;
  readonly outsidePorts?: string | undefined;
  readonly plain?: boolean | undefined;
}

function wholeNumber(option: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new DemoOptionError(option, `expected a whole number from ${min} to ${max}, got '${text}'`);
  }
  return n;
}

/**
 * Resolves the command line into options. One worker per gateway by default: on a small machine the
 * two gateways, io and the terminal view already share the cores.
 */
export function resolveDemoOptions(text: DemoOptionText, isTty: boolean): DemoOptions {
  let rate: number | 'max' = 'max';
  if (text.rate !== undefined && text.rate !== 'max') rate = wholeNumber('rate', text.rate, 1, 100_000_000);
  let size: SizeMix;
  try {
    size = parseSizes(text.size ?? '512', MIN_SIZE, MAX_SIZE, '--size');
  } catch (error) {
    throw new DemoOptionError('size', (error as Error).message.replace(/^--size: /, ''));
  }
  const workers = text.workers === undefined ? 1 : wholeNumber('workers', text.workers, 1, MAX_WORKERS);
  let duration: number | null = null;
  if (text.duration !== undefined) {
    const d = /^\d+(\.\d+)?$/.test(text.duration) ? Number(text.duration) : Number.NaN;
    if (!(d > 0 && d <= 86_400 * 365)) {
      throw new DemoOptionError('duration', `expected seconds greater than 0, got '${text.duration}'`);
    }
    duration = d;
  }
  let listen = DEFAULT_LISTEN;
  if (text.listen !== undefined) {
    try {
      listen = parseListenAddress(text.listen);
    } catch (error) {
      throw new DemoOptionError('listen', (error as Error).message.replace(/^--listen: /, ''));
    }
    if (listen.port === 65535)
      throw new DemoOptionError('listen', 'gateway B takes the next port: at most 65534');
  }
  let outsidePorts: [number, number] = [0, 0];
  if (text.outsidePorts !== undefined) {
    const parts = text.outsidePorts.split(',');
    if (parts.length !== 2) {
      throw new DemoOptionError(
        'outside-ports',
        `expected PORT_A,PORT_B (0 picks a free one), got '${text.outsidePorts}'`,
      );
    }
    outsidePorts = [
      wholeNumber('outside-ports', parts[0]!, 0, 65535),
      wholeNumber('outside-ports', parts[1]!, 0, 65535),
    ];
    if (outsidePorts[0] !== 0 && outsidePorts[0] === outsidePorts[1]) {
      throw new DemoOptionError('outside-ports', 'the two gateways need different ports');
    }
  }
  return {
    rate,
    size,
    workers,
    duration,
    listen,
    outsidePorts,
    view: isTty && text.plain !== true ? 'screen' : 'lines',
  };
}
