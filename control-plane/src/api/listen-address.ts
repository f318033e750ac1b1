import { isIP } from 'node:net';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export const defaultListen: ListenAddress = { host: '127.0.0.1', port: 8470 };

/** `ADDR:PORT`, `[IPV6]:PORT`, or `:PORT` (loopback). */
export function parseListenAddress(text: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || !(port >= 0 && port <= 65535)) {
    throw new Error(`--listen: expected ADDR:PORT or [IPV6]:PORT, got '${text}'`);
  }
  const host = match[1] ?? match[2] ?? '';
  if (host === '') return { host: defaultListen.host, port };
  if (match[1] !== undefined && isIP(host) !== 6)
    throw new Error(`--listen: '${host}' is not an IPv6 address`);
  return { host, port };
}

/** Whether only this machine can reach the address. Host names other than localhost count as public. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return mapped?.[1]?.startsWith('127.') === true;
}
