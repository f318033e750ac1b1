import type { SaConfig } from '@espresso/esp';
import type { AlgorithmCase } from '@espresso/esp/testing';

/**
 * tshark's esp_sa table (its ESP decryption preferences), written from Espresso SA configurations.
 * tshark 4.0 names its ciphers as below; it has no ChaCha20-Poly1305 and no AES-GMAC.
 */
const tsharkEncryption: Record<string, string> = {
  'aes-gcm-8': 'AES-GCM with 8 octet ICV [RFC4106]',
  'aes-gcm-12': 'AES-GCM with 12 octet ICV [RFC4106]',
  'aes-gcm-16': 'AES-GCM with 16 octet ICV [RFC4106]',
  'aes-cbc': 'AES-CBC [RFC3602]',
  null: 'NULL',
};

const tsharkAuthentication: Record<string, string> = {
  none: 'NULL',
  'hmac-sha256-128': 'HMAC-SHA-256-128 [RFC4868]',
  'hmac-sha384-192': 'HMAC-SHA-384-192 [RFC4868]',
  'hmac-sha512-256': 'HMAC-SHA-512-256 [RFC4868]',
};

/** tshark's name for the case's cipher, or undefined where tshark cannot decrypt it. */
export function tsharkCipher(alg: AlgorithmCase): string | undefined {
  const e = alg.encryption;
  return e.algorithm === 'aes-gcm'
    ? tsharkEncryption[`aes-gcm-${e.icvBytes ?? 16}`]
    : tsharkEncryption[e.algorithm];
}

/** One esp_sa record: protocol, source, destination, SPI, cipher, key, authentication, key. */
export function espSaLine(sa: SaConfig, alg: AlgorithmCase): string {
  const family = sa.local.includes(':') ? 'IPv6' : 'IPv4';
  const key = sa.encryption.key === '' ? '' : `0x${sa.encryption.key}`;
  const auth = sa.integrity?.algorithm ?? 'none';
  const authKey = sa.integrity?.key === undefined ? '' : `0x${sa.integrity.key}`;
  const spi = `0x${Number(sa.spi).toString(16).padStart(8, '0')}`;
  return `"${family}","${sa.local}","${sa.remote}","${spi}","${tsharkCipher(alg)}","${key}","${tsharkAuthentication[auth]}","${authKey}"`;
}
