import { readFileSync } from 'node:fs';

/** The version of the `espresso` package, read from the workspace root's package.json. */
export function espressoVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  const pkg = JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
