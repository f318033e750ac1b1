/**
 * What an SA asks of its crypto: the ESP transform (RFC 4303 §3.2) as the engines see it. The ESP
 * layer derives its packet geometry (IV, block and ICV sizes) from here; the engines build contexts.
 */

export const encryptionAlgorithms = ['aes-gcm', 'aes-gmac', 'chacha20-poly1305', 'aes-cbc', 'null'] as const;
export type EncryptionAlgorithm = (typeof encryptionAlgorithms)[number];

export const integrityAlgorithms = ['hmac-sha256-128', 'hmac-sha384-192', 'hmac-sha512-256', 'none'] as const;
export type IntegrityAlgorithm = (typeof integrityAlgorithms)[number];

export interface CipherSpec {
  readonly encryption: EncryptionAlgorithm;
  /** AES key size; 256 for ChaCha20-Poly1305; 0 for null encryption. */
  readonly keyBits: 0 | 128 | 192 | 256;
  /** ICV length in bytes: 8, 12 or 16 for AES-GCM; 16 for GMAC and ChaCha20-Poly1305; from the HMAC otherwise. */
  readonly icvBytes: number;
  /** 'none' for the combined-mode algorithms (GCM, GMAC, ChaCha20-Poly1305). */
  readonly integrity: IntegrityAlgorithm;
  /** Extended sequence numbers: the high 32 bits take part in the ICV (RFC 4303 §2.2.1, RFC 4106 §5). */
  readonly esn: boolean;
  /** RFC 8750 implicit IV: no IV on the wire, the nonce is built from the sequence number. */
  readonly implicitIv: boolean;
}

export interface CipherKeys {
  /** Encryption key; for AES-GCM, GMAC and ChaCha20-Poly1305 the 4-byte salt follows the key (RFC 4106 §8.1). */
  readonly encryptionKey: Uint8Array;
  /** HMAC key; empty for the combined-mode algorithms. */
  readonly integrityKey: Uint8Array;
}

/** The packet geometry an SA's crypto imposes on ESP. */
export interface CipherGeometry {
  /** IV bytes on the wire after the sequence number. */
  readonly ivBytes: number;
  /** Payload + trailer must be a multiple of this (at least 4: ESP's own alignment). */
  readonly blockBytes: number;
  readonly icvBytes: number;
}

export function isCombinedMode(encryption: EncryptionAlgorithm): boolean {
  return encryption === 'aes-gcm' || encryption === 'aes-gmac' || encryption === 'chacha20-poly1305';
}

export function hmacTagBytes(integrity: IntegrityAlgorithm): number {
  switch (integrity) {
    case 'hmac-sha256-128':
      return 16;
    case 'hmac-sha384-192':
      return 24;
    case 'hmac-sha512-256':
      return 32;
    case 'none':
      return 0;
  }
}

export function cipherGeometry(spec: CipherSpec): CipherGeometry {
  switch (spec.encryption) {
    case 'aes-gcm':
    case 'aes-gmac':
    case 'chacha20-poly1305':
      return { ivBytes: spec.implicitIv ? 0 : 8, blockBytes: 4, icvBytes: spec.icvBytes };
    case 'aes-cbc':
      return { ivBytes: 16, blockBytes: 16, icvBytes: hmacTagBytes(spec.integrity) };
    case 'null':
      return { ivBytes: 0, blockBytes: 4, icvBytes: hmacTagBytes(spec.integrity) };
  }
}

/** Expected length of `CipherKeys.encryptionKey` for a spec: key plus salt where the algorithm has one. */
export function encryptionKeyBytes(spec: CipherSpec): number {
  const key = spec.keyBits / 8;
  return isCombinedMode(spec.encryption) ? key + 4 : key;
}

/** Key length of an integrity algorithm (RFC 4868: the hash output size). */
export function integrityKeyBytes(integrity: IntegrityAlgorithm): number {
  return hmacTagBytes(integrity) * 2;
}

/** A short stable name for logs, metrics and the probe, e.g. `aes-gcm-256-icv16` or `aes-cbc-128+hmac-sha256-128`. */
export function cipherSpecName(
  spec: Pick<CipherSpec, 'encryption' | 'keyBits' | 'icvBytes' | 'integrity'>,
): string {
  if (isCombinedMode(spec.encryption)) {
    const bits = spec.encryption === 'chacha20-poly1305' ? '' : `-${spec.keyBits}`;
    return `${spec.encryption}${bits}-icv${spec.icvBytes}`;
  }
  const enc = spec.encryption === 'null' ? 'null' : `${spec.encryption}-${spec.keyBits}`;
  return `${enc}+${spec.integrity}`;
}

const aesKeyBits: readonly number[] = [128, 192, 256];

/**
 * Why a spec is not a transform Espresso knows, naming the field, or undefined when it is one. Engines
 * refuse such specs whatever they support; `supports()` only ever sees specs that pass this.
 */
export function cipherSpecProblem(spec: CipherSpec): string | undefined {
  if (!encryptionAlgorithms.includes(spec.encryption)) return `spec.encryption: unknown algorithm`;
  if (!integrityAlgorithms.includes(spec.integrity)) return `spec.integrity: unknown algorithm`;
  if (typeof spec.esn !== 'boolean') return 'spec.esn: must be a boolean';
  if (typeof spec.implicitIv !== 'boolean') return 'spec.implicitIv: must be a boolean';
  const combined = isCombinedMode(spec.encryption);
  if (combined && spec.integrity !== 'none') {
    return `spec.integrity: must be 'none' for ${spec.encryption} (it authenticates itself)`;
  }
  switch (spec.encryption) {
    case 'aes-gcm':
    case 'aes-gmac':
    case 'aes-cbc':
      if (!aesKeyBits.includes(spec.keyBits)) return 'spec.keyBits: must be 128, 192 or 256 for AES';
      break;
    case 'chacha20-poly1305':
      if (spec.keyBits !== 256) return 'spec.keyBits: must be 256 for chacha20-poly1305';
      break;
    case 'null':
      if (spec.keyBits !== 0) return 'spec.keyBits: must be 0 for null encryption';
      if (spec.integrity === 'none') return 'spec.integrity: null encryption needs an integrity algorithm';
      break;
  }
  if (spec.encryption === 'aes-gcm') {
    if (spec.icvBytes !== 8 && spec.icvBytes !== 12 && spec.icvBytes !== 16) {
      return 'spec.icvBytes: must be 8, 12 or 16 for aes-gcm';
    }
  } else if (combined) {
    if (spec.icvBytes !== 16) return `spec.icvBytes: must be 16 for ${spec.encryption}`;
  } else if (spec.icvBytes !== hmacTagBytes(spec.integrity)) {
    return `spec.icvBytes: must be ${hmacTagBytes(spec.integrity)} for ${spec.integrity}`;
  }
  // RFC 8750 defines implicit IVs for the counter-mode AEADs only; GMAC carries its IV in the AAD.
  if (spec.implicitIv && spec.encryption !== 'aes-gcm' && spec.encryption !== 'chacha20-poly1305') {
    return 'spec.implicitIv: only aes-gcm and chacha20-poly1305 have an implicit-IV form (RFC 8750)';
  }
  return undefined;
}

/**
 * Every spec `cipherSpecProblem` accepts, in a stable order: what the algorithm probe walks and what the
 * engine contract suite tests.
 */
export function allCipherSpecs(): CipherSpec[] {
  const specs: CipherSpec[] = [];
  const flags = [
    { esn: false, implicitIv: false },
    { esn: true, implicitIv: false },
    { esn: false, implicitIv: true },
    { esn: true, implicitIv: true },
  ] as const;
  const add = (base: Omit<CipherSpec, 'esn' | 'implicitIv'>) => {
    for (const f of flags) {
      const spec = { ...base, ...f };
      if (cipherSpecProblem(spec) === undefined) specs.push(spec);
    }
  };
  for (const keyBits of [128, 192, 256] as const) {
    for (const icvBytes of [16, 12, 8]) add({ encryption: 'aes-gcm', keyBits, icvBytes, integrity: 'none' });
  }
  for (const keyBits of [128, 192, 256] as const) {
    add({ encryption: 'aes-gmac', keyBits, icvBytes: 16, integrity: 'none' });
  }
  add({ encryption: 'chacha20-poly1305', keyBits: 256, icvBytes: 16, integrity: 'none' });
  for (const keyBits of [128, 192, 256] as const) {
    for (const integrity of integrityAlgorithms) {
      add({ encryption: 'aes-cbc', keyBits, icvBytes: hmacTagBytes(integrity), integrity });
    }
  }
  for (const integrity of integrityAlgorithms) {
    add({ encryption: 'null', keyBits: 0, icvBytes: hmacTagBytes(integrity), integrity });
  }
  return specs;
}

/** `cipherSpecName` plus the ESN and implicit-IV flags: unique per spec, e.g. `aes-gcm-128-icv16/esn/iiv`. */
export function cipherSpecVariantName(spec: CipherSpec): string {
  return `${cipherSpecName(spec)}${spec.esn ? '/esn' : ''}${spec.implicitIv ? '/iiv' : ''}`;
}
