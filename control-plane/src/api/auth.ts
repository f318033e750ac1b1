import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Scope } from '@espresso/api';

export type TokenScope = 'read' | 'write';

/** Bearer tokens and their scopes. Only SHA-256 digests are held, compared in constant time. */
export class TokenSet {
  readonly #digests: { digest: Buffer; scope: TokenScope }[] = [];

  add(token: string, scope: TokenScope): void {
    if (token.length < 16) throw new Error(`a ${scope} token must be at least 16 characters`);
    this.#digests.push({ digest: digest(token), scope });
  }

  get size(): number {
    return this.#digests.length;
  }

  /** The scope a presented token grants, or undefined. A write token also grants read. */
  scopeOf(token: string): TokenScope | undefined {
    const presented = digest(token);
    let scope: TokenScope | undefined;
    for (const entry of this.#digests) {
      if (timingSafeEqual(entry.digest, presented) && scope !== 'write') scope = entry.scope;
    }
    return scope;
  }

  allows(token: string, needed: Scope): boolean {
    if (needed === 'none') return true;
    const scope = this.scopeOf(token);
    return scope === 'write' || (scope === 'read' && needed === 'read');
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * A token file holds one `<scope> <token>` pair per line (`read` or `write`); blank lines and lines
 * starting with # are skipped.
 */
export function parseTokenFile(text: string, into = new TokenSet(), source = 'token file'): TokenSet {
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(read|write)\s+(\S+)$/.exec(line);
    if (match === null) throw new Error(`${source}:${index + 1}: expected '<read|write> <token>'`);
    into.add(match[2] as string, match[1] as TokenScope);
  });
  return into;
}

/** Tokens from a file and from ESPRESSO_API_TOKEN (write) and ESPRESSO_API_READ_TOKEN (read). */
export function loadTokens(options: { file?: string; env?: NodeJS.ProcessEnv }): TokenSet {
  const tokens = new TokenSet();
  if (options.file !== undefined) parseTokenFile(readFileSync(options.file, 'utf8'), tokens, options.file);
  const env = options.env ?? process.env;
  const write = env.ESPRESSO_API_TOKEN;
  const read = env.ESPRESSO_API_READ_TOKEN;
  if (write !== undefined && write !== '') tokens.add(write, 'write');
  if (read !== undefined && read !== '') tokens.add(read, 'read');
  return tokens;
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
