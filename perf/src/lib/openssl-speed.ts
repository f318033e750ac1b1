import { spawnSync } from 'node:child_process';

/**
 * `openssl speed -evp CIPHER` for one block size, run now on this machine: the reference that
 * benchmark ratios are taken against. Returns bytes per second, or null when openssl is missing or
 * does not know the cipher. `multi` runs that many processes (`-multi N`) and reports their sum.
 */
export function opensslSpeed(
  cipher: string,
  bytes: number,
  options: { seconds?: number; multi?: number } = {},
): number | null {
  const { seconds = 1, multi = 1 } = options;
  const args = ['speed', '-evp', cipher, '-bytes', String(bytes), '-seconds', String(seconds)];
  if (multi > 1) args.push('-multi', String(multi));
  const run = spawnSync('openssl', args, { encoding: 'utf8', timeout: (seconds * 4 + 20) * 1000 });
  if (run.status !== 0 || typeof run.stdout !== 'string') return null;
  // The summary row: "<cipher name>   <N>k" where N is thousands of bytes per second.
  const rows = run.stdout.split('\n').filter((l) => /\d+(\.\d+)?k\s*$/.test(l.trim()));
  const last = rows.at(-1);
  const match = last?.trim().match(/([\d.]+)k$/);
  return match?.[1] === undefined ? null : Number(match[1]) * 1000;
}

export function opensslVersion(): string {
  const run = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : 'openssl not found';
}
