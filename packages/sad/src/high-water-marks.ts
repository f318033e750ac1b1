import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { KeyIdentityHasher, type KeyIdentityInput } from './fingerprint.ts';

/**
 * Remembers, per SA keying (SPI, direction, domain, keys), the next sequence number that is safe to use,
 * so an SA re-added with keys used before continues above it and no (key, IV) pair repeats (DESIGN
 * invariant 2). Entries are keyed by a keyed digest of the keying, never by the keys.
 */
export interface HighWaterMarks {
  identity(input: KeyIdentityInput): string;
  /** The next safe sequence number recorded for this keying, if any. */
  get(identity: string): bigint | undefined;
  /** Record that sequence numbers below `next` may have been used. Marks only ever rise. */
  raise(identity: string, next: bigint): void;
  /** Make the raised marks durable (a no-op for the in-memory store). */
  flush(): void;
  readonly size: number;
}

export class MemoryHighWaterMarks implements HighWaterMarks {
  protected readonly secret: Uint8Array;
  readonly #hasher: KeyIdentityHasher;
  protected readonly marks = new Map<string, bigint>();
  protected dirty = false;

  constructor(secret: Uint8Array = randomBytes(32)) {
    this.secret = secret;
    this.#hasher = new KeyIdentityHasher(secret);
    // Not enumerable: a logged or serialised store shows no secret.
    Object.defineProperty(this, 'secret', { enumerable: false });
  }

  identity(input: KeyIdentityInput): string {
    return this.#hasher.identity(input);
  }

  get(identity: string): bigint | undefined {
    return this.marks.get(identity);
  }

  raise(identity: string, next: bigint): void {
    const current = this.marks.get(identity);
    if (current === undefined || next > current) {
      this.marks.set(identity, next);
      this.dirty = true;
    }
  }

  flush(): void {
    this.dirty = false;
  }

  get size(): number {
    return this.marks.size;
  }
}

interface StoredMarks {
  readonly format: 'espresso-high-water-marks-v1';
  readonly secret: string;
  readonly marks: Record<string, string>;
}

/**
 * High-water marks that survive a restart: a JSON file (mode 0600) holding the digest secret and the
 * marks, rewritten atomically (temporary file, then rename) when flushed after a mark rose.
 */
export class FileHighWaterMarks extends MemoryHighWaterMarks {
  readonly #path: string;

  constructor(path: string) {
    const stored = readStored(path);
    super(stored === undefined ? randomBytes(32) : Buffer.from(stored.secret, 'hex'));
    this.#path = path;
    if (stored === undefined) {
      this.dirty = true;
      this.flush();
    } else {
      for (const [identity, next] of Object.entries(stored.marks)) this.marks.set(identity, BigInt(next));
    }
  }

  override flush(): void {
    if (!this.dirty) return;
    const stored: StoredMarks = {
      format: 'espresso-high-water-marks-v1',
      secret: Buffer.from(this.secret).toString('hex'),
      marks: Object.fromEntries([...this.marks].map(([identity, next]) => [identity, next.toString()])),
    };
    const temporary = `${this.#path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(stored)}\n`, { mode: 0o600 });
    renameSync(temporary, this.#path);
    this.dirty = false;
  }
}

function readStored(path: string): StoredMarks | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const stored = JSON.parse(text) as Partial<StoredMarks>;
  if (
    stored.format !== 'espresso-high-water-marks-v1' ||
    typeof stored.secret !== 'string' ||
    !/^[0-9a-f]{64}$/.test(stored.secret) ||
    typeof stored.marks !== 'object' ||
    stored.marks === null
  ) {
    throw new Error(`${path}: not an Espresso high-water mark file`);
  }
  for (const next of Object.values(stored.marks)) {
    if (typeof next !== 'string' || !/^\d{1,20}$/.test(next)) throw new Error(`${path}: bad mark value`);
  }
  return stored as StoredMarks;
}
