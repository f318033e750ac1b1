import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SaConfigError } from './sa-config-error.ts';
import { parseSaConfig, validateSaConfig } from './sa-config-validate.ts';
import { resolveSaConfig } from './sa-parameters.ts';

const gcmKey = `${'11'.repeat(32)}${'a0a1a2a3'}`;

function base(): Record<string, unknown> {
  return {
    spi: '0x00001234',
    direction: 'out',
    mode: 'tunnel',
    encryption: { algorithm: 'aes-gcm', keyBits: 256, icvBytes: 16, key: gcmKey },
    local: '192.0.2.1',
    remote: '198.51.100.2',
  };
}

function issuesOf(input: unknown): { path: string; message: string }[] {
  const r = validateSaConfig(input);
  assert.equal(r.ok, false, 'expected the configuration to be refused');
  return r.ok ? [] : [...r.issues];
}

describe('SA configuration: schema and semantic checks', () => {
  it('accepts a minimal configuration and fills the defaults', () => {
    const p = resolveSaConfig(base());
    assert.equal(p.spi, 0x1234);
    assert.equal(p.replayWindow, 1024);
    assert.equal(p.engine, 'auto');
    assert.equal(p.initialSequence, 1n);
    assert.equal(p.dscp, -1);
    assert.equal(p.ttl, 64);
    assert.equal(p.encap, null);
    assert.deepEqual(p.cipherSpec, {
      encryption: 'aes-gcm',
      keyBits: 256,
      icvBytes: 16,
      integrity: 'none',
      esn: false,
      implicitIv: false,
    });
    assert.equal(p.keys.encryptionKey.length, 36);
    assert.equal(p.keys.encryptionKey[32], 0xa0);
    assert.equal(p.hard.packets, Number.POSITIVE_INFINITY);
  });

  it('defaults the hard packet limit to 2^32 for an 8-byte ICV', () => {
    const c = base();
    c.encryption = { algorithm: 'aes-gcm', keyBits: 256, icvBytes: 8, key: gcmKey };
    assert.equal(resolveSaConfig(c).hard.packets, 2 ** 32);
    c.lifetime = { hard: { packets: 1000 } };
    assert.equal(resolveSaConfig(c).hard.packets, 1000);
  });

  it('takes the SPI as a number or a 0x string, and refuses 0 and the reserved 1..255', () => {
    assert.equal(resolveSaConfig({ ...base(), spi: 4660 }).spi, 4660);
    assert.equal(resolveSaConfig({ ...base(), spi: '0xFFFFFFFF' }).spi, 0xffffffff);
    for (const spi of [0, 1, 255, '0x0', '0xff', 2 ** 32, 'x12', 1.5]) {
      const issues = issuesOf({ ...base(), spi });
      assert.deepEqual(
        issues.map((i) => i.path),
        ['/spi'],
      );
    }
  });

  it('names the path of each wrong field and lists them all', () => {
    const c = base();
    c.replayWindow = 16;
    c.mode = 'tunnle';
    c.extra = true;
    (c.encryption as Record<string, unknown>).keyBits = 100;
    const paths = issuesOf(c)
      .map((i) => i.path)
      .sort();
    assert.deepEqual(paths, ['/encryption/keyBits', '/extra', '/mode', '/replayWindow']);
  });

  it('checks key lengths per algorithm, without quoting the key', () => {
    const c = base();
    const secret = 'deadbeef'.repeat(8);
    c.encryption = { algorithm: 'aes-gcm', keyBits: 256, key: secret };
    const issues = issuesOf(c);
    assert.deepEqual(
      issues.map((i) => i.path),
      ['/encryption/key'],
    );
    assert.match(issues[0]!.message, /36 bytes/);
    const err = assert.throws(() => parseSaConfig(c), SaConfigError);
    void err;
    try {
      parseSaConfig(c);
    } catch (e) {
      assert.ok(e instanceof SaConfigError);
      assert.ok(!e.message.includes(secret) && !e.message.includes('deadbeef'));
    }
  });

  it('never echoes key material, whatever is wrong with it', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 8, maxLength: 100 }), fc.boolean(), (key, cbc) => {
        const c = base();
        c.encryption = cbc
          ? { algorithm: 'aes-cbc', keyBits: 128, key }
          : { algorithm: 'chacha20-poly1305', key };
        c.integrity = cbc ? { algorithm: 'hmac-sha256-128', key } : undefined;
        if (!cbc) delete c.integrity;
        const r = validateSaConfig(c);
        if (r.ok) return;
        for (const issue of r.issues) assert.ok(!issue.message.includes(key), issue.message);
        assert.ok(!new SaConfigError(r.issues).message.includes(key));
      }),
    );
  });

  it('requires integrity for null encryption and refuses it for combined modes', () => {
    const nul = { ...base(), encryption: { algorithm: 'null', key: '' } };
    assert.deepEqual(
      issuesOf(nul).map((i) => i.path),
      ['/integrity'],
    );
    const ok = { ...nul, integrity: { algorithm: 'hmac-sha256-128', key: '22'.repeat(32) } };
    assert.equal(resolveSaConfig(ok).cipherSpec.icvBytes, 16);
    const gcmWithHmac = { ...base(), integrity: { algorithm: 'hmac-sha256-128', key: '22'.repeat(32) } };
    assert.deepEqual(
      issuesOf(gcmWithHmac)
        .map((i) => i.path)
        .sort(),
      ['/integrity/algorithm', '/integrity/key'],
    );
  });

  it('accepts AES-CBC with HMAC (keys split) and AES-CBC alone (RFC 3602 vectors have no ICV)', () => {
    const c = {
      ...base(),
      encryption: { algorithm: 'aes-cbc', keyBits: 128, key: '33'.repeat(16) },
      integrity: { algorithm: 'hmac-sha512-256', key: '44'.repeat(64) },
    };
    const p = resolveSaConfig(c);
    assert.equal(p.cipherSpec.icvBytes, 32);
    assert.equal(p.keys.integrityKey.length, 64);
    const alone = resolveSaConfig({
      ...base(),
      encryption: { algorithm: 'aes-cbc', keyBits: 128, key: '33'.repeat(16) },
    });
    assert.equal(alone.cipherSpec.icvBytes, 0);
  });

  it('checks address families, BEET inner addresses and TFC against the mode', () => {
    assert.deepEqual(
      issuesOf({ ...base(), remote: '2001:db8::1' }).map((i) => i.path),
      ['/remote'],
    );
    assert.deepEqual(
      issuesOf({ ...base(), local: '300.1.1.1' }).map((i) => i.path),
      ['/local'],
    );
    assert.deepEqual(
      issuesOf({ ...base(), mode: 'beet' }).map((i) => i.path),
      ['/beet'],
    );
    const beet = resolveSaConfig({
      ...base(),
      mode: 'beet',
      beet: { innerLocal: '2001:db8::1', innerRemote: '2001:db8::2' },
    });
    assert.equal(beet.beet?.innerRemote.version, 6);
    assert.deepEqual(
      issuesOf({ ...base(), mode: 'transport', tfcPadTo: 1000 }).map((i) => i.path),
      ['/tfcPadTo'],
    );
  });

  it('bounds the initial sequence by the ESN setting and the direction', () => {
    assert.equal(resolveSaConfig({ ...base(), initialSequence: '4294967295' }).initialSequence, 0xffffffffn);
    assert.deepEqual(
      issuesOf({ ...base(), initialSequence: '4294967296' }).map((i) => i.path),
      ['/initialSequence'],
    );
    assert.equal(
      resolveSaConfig({ ...base(), esn: true, initialSequence: '18446744073709551615' }).initialSequence,
      (1n << 64n) - 1n,
    );
    assert.deepEqual(
      issuesOf({ ...base(), initialSequence: '0' }).map((i) => i.path),
      ['/initialSequence'],
    );
    assert.deepEqual(
      issuesOf({ ...base(), initialReplay: { top: '5' } }).map((i) => i.path),
      ['/initialReplay'],
    );
    const inbound = resolveSaConfig({
      ...base(),
      direction: 'in',
      esn: true,
      initialReplay: { top: '4294967300' },
    });
    assert.equal(inbound.initialReplayTop, 4294967300n);
  });

  it('keeps soft lifetimes at or below hard ones', () => {
    assert.deepEqual(
      issuesOf({ ...base(), lifetime: { soft: { bytes: 10 }, hard: { bytes: 5 } } }).map((i) => i.path),
      ['/lifetime/soft/bytes'],
    );
  });

  it('prefixes paths for a caller validating a larger document', () => {
    const r = validateSaConfig({ ...base(), ttl: 0 }, '/sas/2');
    assert.equal(r.ok, false);
    if (!r.ok)
      assert.deepEqual(
        r.issues.map((i) => i.path),
        ['/sas/2/ttl'],
      );
  });

  it('reports missing required fields by their own path', () => {
    const c = base();
    delete c.local;
    delete c.direction;
    assert.deepEqual(
      issuesOf(c)
        .map((i) => i.path)
        .sort(),
      ['/direction', '/local'],
    );
  });
});
