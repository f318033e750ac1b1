import { existsSync, readFileSync } from 'node:fs';
import type { CipherKeys, CipherSpec } from './cipher-spec.ts';

/**
 * The published vectors in the shared project folder (`../shared/vectors/` beside the checkout, or
 * $ESPRESSO_VECTORS_DIR), each turned into one ESP packet an engine can seal and open.
 */
export interface EspVector {
  readonly id: string;
  readonly file: string;
  readonly spec: CipherSpec;
  readonly keys: CipherKeys;
  readonly seqHigh: number;
  /** SPI .. ICV before sealing: plaintext payload, ICV bytes zero. */
  readonly plain: Uint8Array;
  /** SPI .. ICV as published (ciphertext and ICV). */
  readonly sealed: Uint8Array;
  /** A negative vector: open must report authFailed. */
  readonly expectAuthFail: boolean;
}

export interface LoadedVectors {
  readonly dir: string;
  readonly vectors: readonly EspVector[];
  /** Cases that are not ESP packets for any engine here, with the reason. */
  readonly notApplicable: readonly { readonly id: string; readonly reason: string }[];
}

export function vectorsDir(): string {
  return process.env.ESPRESSO_VECTORS_DIR ?? new URL('../../../../shared/vectors/', import.meta.url).pathname;
}

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
const none = new Uint8Array(0);

// biome-ignore lint/suspicious/noExplicitAny: the JSON files are read field by field, checked by use.
type Json = any;

function readCases(dir: string, file: string): Json[] {
  const path = `${dir.replace(/\/$/, '')}/${file}`;
  return (JSON.parse(readFileSync(path, 'utf8')) as { cases: Json[] }).cases;
}

const flags = { esn: false, implicitIv: false } as const;

export function loadVectors(dir: string = vectorsDir()): LoadedVectors {
  if (!existsSync(dir)) throw new Error(`published vectors not found at ${dir} (set ESPRESSO_VECTORS_DIR)`);
  const vectors: EspVector[] = [];
  const notApplicable: { id: string; reason: string }[] = [];

  // RFC 4106 through Linux testmgr: esp_view.packet = SPI || seq low || IV || ciphertext || ICV.
  for (const c of readCases(dir, 'rfc4106-testmgr.json')) {
    const packet = hex(c.esp_view.packet);
    const esn = c.esp_view.esn === true;
    vectors.push({
      id: c.id,
      file: 'rfc4106-testmgr.json',
      spec: {
        encryption: 'aes-gcm',
        keyBits: ((c.klen - 4) * 8) as 128,
        icvBytes: 16,
        integrity: 'none',
        esn,
        implicitIv: false,
      },
      keys: { encryptionKey: hex(c.key_with_salt), integrityKey: none },
      seqHigh: esn ? Number.parseInt(c.esp_view.seq.slice(0, 8), 16) : 0,
      plain: concat(packet.subarray(0, 16), hex(c.plaintext), new Uint8Array(16)),
      sealed: packet,
      expectAuthFail: false,
    });
  }

  // RFC 4543 (GMAC): the payload travels in clear; case 2 has a corrupted tag.
  for (const c of readCases(dir, 'rfc4543.json')) {
    const packet = hex(c.esp_view.packet);
    vectors.push({
      id: c.id,
      file: 'rfc4543.json',
      spec: {
        encryption: 'aes-gmac',
        keyBits: ((c.klen - 4) * 8) as 128,
        icvBytes: 16,
        integrity: 'none',
        ...flags,
      },
      keys: { encryptionKey: hex(c.key_with_salt), integrityKey: none },
      seqHigh: 0,
      plain: concat(packet.subarray(0, packet.length - 16), new Uint8Array(16)),
      sealed: packet,
      expectAuthFail: c.expect_auth_fail === true,
    });
  }

  // RFC 7634: Appendix A is an ESP packet; Appendix B is an IKEv2 message.
  for (const c of readCases(dir, 'rfc7634.json')) {
    if (c.esp_packet === undefined) {
      notApplicable.push({
        id: c.id,
        reason: 'an IKEv2 message, not an ESP packet (its AAD is the IKE header)',
      });
      continue;
    }
    const packet = hex(c.esp_packet);
    vectors.push({
      id: c.id,
      file: 'rfc7634.json',
      spec: { encryption: 'chacha20-poly1305', keyBits: 256, icvBytes: 16, integrity: 'none', ...flags },
      keys: { encryptionKey: hex(c.keymat), integrityKey: none },
      seqHigh: 0,
      plain: concat(packet.subarray(0, 16), hex(c.plaintext), new Uint8Array(16)),
      sealed: packet,
      expectAuthFail: false,
    });
  }

  // RFC 3602: cases 1-4 are raw CBC, carried here in an ESP packet with SPI and sequence 0 (CBC ignores
  // them); cases 5-8 are whole ESP packets. Encryption only: no ICV.
  const cbc128: CipherSpec = {
    encryption: 'aes-cbc',
    keyBits: 128,
    icvBytes: 0,
    integrity: 'none',
    ...flags,
  };
  for (const c of readCases(dir, 'rfc3602.json')) {
    const header =
      c.kind === 'esp-packet' ? hex(c.esp_packet).subarray(0, 24) : concat(new Uint8Array(8), hex(c.iv));
    vectors.push({
      id: c.id,
      file: 'rfc3602.json',
      spec: cbc128,
      keys: { encryptionKey: hex(c.key), integrityKey: none },
      seqHigh: 0,
      plain: concat(header, hex(c.plaintext)),
      sealed: concat(header, hex(c.ciphertext)),
      expectAuthFail: false,
    });
  }

  // RFC 4868 HMAC-SHA-256 vectors: the message is the whole packet before the ICV, under null encryption.
  const nullSha256: CipherSpec = {
    encryption: 'null',
    keyBits: 0,
    icvBytes: 16,
    integrity: 'hmac-sha256-128',
    ...flags,
  };
  for (const c of readCases(dir, 'rfc4868.json')) {
    const data = hex(c.data);
    if (data.length < 8) {
      notApplicable.push({ id: c.id, reason: 'message shorter than an ESP header' });
      continue;
    }
    vectors.push({
      id: c.id,
      file: 'rfc4868.json',
      spec: nullSha256,
      keys: { encryptionKey: none, integrityKey: hex(c.key) },
      seqHigh: 0,
      plain: concat(data, new Uint8Array(16)),
      sealed: concat(data, hex(c.hmac_sha256_128)),
      expectAuthFail: false,
    });
  }
  return { dir, vectors, notApplicable };
}
