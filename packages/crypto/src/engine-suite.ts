import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  allCipherSpecs,
  type CipherKeys,
  type CipherSpec,
  cipherGeometry,
  cipherSpecVariantName,
  encryptionKeyBytes,
  integrityKeyBytes,
  isCombinedMode,
} from './cipher-spec.ts';
import type { CryptoEngine, SaCipher } from './engine.ts';
import { nobleEngine } from './engines/noble.ts';
import { nodeEngine } from './engines/node.ts';
import { CryptoConfigError, CryptoErrorCode } from './errors.ts';
import { CryptoStatus, type PacketBatch } from './packet-batch.ts';
import { copyBatch, layOutPackets, packetBytes, type TestPacket } from './test-batch.ts';
import { loadVectors } from './vectors.ts';

export interface EngineContractOptions {
  /** The engine outputs are compared with: noble by default, node when testing noble itself. */
  readonly reference?: CryptoEngine;
  /** fast-check runs per spec for the agreement property (default 30). */
  readonly numRuns?: number;
  /**
   * The engine keeps its key material in typed-array fields of the cipher object (named *key*, *nonce*,
   * xk...): check they hold something before destroy() and only zeros after. Off for engines whose
   * keys live outside JavaScript (a native addon checks its own).
   */
  readonly keyFieldsInJs?: boolean;
}

/**
 * The contract every crypto engine passes (registered with node:test): published vectors, agreement
 * with the reference on random input, tampering, bad descriptors and lengths, batch isolation, honest
 * `supports()`, lifecycle. An engine that is not available here is skipped with its reason.
 */
export function describeEngineContract(engine: CryptoEngine, options: EngineContractOptions = {}): void {
  const reference = options.reference ?? (engine.name === nobleEngine.name ? nodeEngine : nobleEngine);
  const numRuns = options.numRuns ?? 30;
  const skip = engine.available ? false : `engine '${engine.name}' unavailable: ${engine.unavailableReason}`;
  const specs = allCipherSpecs().filter((s) => engine.supports(s));

  describe(`crypto engine contract: ${engine.name}`, { skip }, () => {
    describe('supports() is honest', () => describeSupports(engine));
    describe('published vectors', () => describeVectors(engine));
    describe(`agrees with ${reference.name} on random packets`, () => {
      for (const spec of specs) {
        it(cipherSpecVariantName(spec), () => checkAgreement(engine, reference, spec, numRuns));
      }
    });
    describe('implicit IV (RFC 8750) = explicit IV of seqHigh || seq, left off the wire', () => {
      for (const spec of specs.filter((s) => s.implicitIv && engine.supports({ ...s, implicitIv: false }))) {
        it(cipherSpecVariantName(spec), () => checkImplicitIv(engine, spec));
      }
    });
    describe('tampered packets fail and do not disturb their neighbours', () => {
      for (const spec of specs.filter(hasIntegrity)) {
        it(cipherSpecVariantName(spec), () => checkTampering(engine, spec));
      }
    });
    describe('bad descriptors and lengths', () => {
      for (const spec of representativeSpecs(specs)) {
        it(cipherSpecVariantName(spec), () => checkBadInput(engine, reference, spec));
      }
    });
    describe('lifecycle', () => {
      for (const spec of representativeSpecs(specs)) {
        it(cipherSpecVariantName(spec), () =>
          checkLifecycle(engine, reference, spec, options.keyFieldsInJs === true),
        );
      }
    });
  });
}

function hasIntegrity(spec: CipherSpec): boolean {
  return isCombinedMode(spec.encryption) || spec.integrity !== 'none';
}

/** One spec per algorithm and key size, with ESN where there is a choice: enough for the structural checks. */
function representativeSpecs(specs: readonly CipherSpec[]): CipherSpec[] {
  const seen = new Set<string>();
  const out: CipherSpec[] = [];
  for (const s of specs) {
    const key = `${s.encryption}-${s.keyBits}-${s.integrity}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(specs.find((t) => `${t.encryption}-${t.keyBits}-${t.integrity}` === key && t.esn) ?? s);
  }
  return out;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let k = 0; k < n; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[k] = x & 0xff;
  }
  return out;
}

function keysFor(spec: CipherSpec, seed: number): CipherKeys {
  return {
    encryptionKey: randomBytes(encryptionKeyBytes(spec), seed),
    integrityKey: randomBytes(
      isCombinedMode(spec.encryption) ? 0 : integrityKeyBytes(spec.integrity),
      seed + 1,
    ),
  };
}

function payloadLength(spec: CipherSpec, n: number): number {
  return spec.encryption === 'aes-cbc' ? n - (n % 16) : n;
}

function samplePackets(spec: CipherSpec, count: number, payloadBytes: number, seed: number): TestPacket[] {
  const g = cipherGeometry(spec);
  return Array.from({ length: count }, (_, k) => ({
    spi: 0x1000 + k,
    seq: 0xfffffff0 + k,
    seqHigh: 7,
    iv: randomBytes(g.ivBytes, seed + 10 * k),
    payload: randomBytes(payloadLength(spec, payloadBytes + 3 * k), seed + 10 * k + 1),
  }));
}

function expectConfigError(fn: () => unknown, code: string, field?: string): CryptoConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof CryptoConfigError,
    `expected a CryptoConfigError ${code}, got ${String(caught)}`,
  );
  assert.equal(caught.code, code);
  if (field !== undefined) assert.equal(caught.field, field);
  return caught;
}

const invalidSpecs: readonly CipherSpec[] = [
  { encryption: 'aes-gcm', keyBits: 128, icvBytes: 10, integrity: 'none', esn: false, implicitIv: false },
  {
    encryption: 'aes-gcm',
    keyBits: 128,
    icvBytes: 16,
    integrity: 'hmac-sha256-128',
    esn: false,
    implicitIv: false,
  },
  { encryption: 'aes-gmac', keyBits: 128, icvBytes: 8, integrity: 'none', esn: false, implicitIv: false },
  { encryption: 'aes-gmac', keyBits: 128, icvBytes: 16, integrity: 'none', esn: false, implicitIv: true },
  {
    encryption: 'chacha20-poly1305',
    keyBits: 128,
    icvBytes: 16,
    integrity: 'none',
    esn: false,
    implicitIv: false,
  },
  {
    encryption: 'aes-cbc',
    keyBits: 0,
    icvBytes: 16,
    integrity: 'hmac-sha256-128',
    esn: false,
    implicitIv: false,
  },
  {
    encryption: 'aes-cbc',
    keyBits: 128,
    icvBytes: 12,
    integrity: 'hmac-sha256-128',
    esn: false,
    implicitIv: false,
  },
  {
    encryption: 'aes-cbc',
    keyBits: 128,
    icvBytes: 16,
    integrity: 'hmac-sha256-128',
    esn: false,
    implicitIv: true,
  },
  { encryption: 'null', keyBits: 0, icvBytes: 0, integrity: 'none', esn: false, implicitIv: false },
  {
    encryption: 'null',
    keyBits: 128,
    icvBytes: 16,
    integrity: 'hmac-sha256-128',
    esn: false,
    implicitIv: false,
  },
];

function describeSupports(engine: CryptoEngine): void {
  it('builds a cipher for every spec it claims and refuses every other with ERR_CRYPTO_UNSUPPORTED_SPEC', () => {
    let claimed = 0;
    for (const spec of allCipherSpecs()) {
      const keys = keysFor(spec, 1);
      if (engine.supports(spec)) {
        claimed++;
        const cipher = engine.createCipher(spec, keys);
        assert.equal(cipher.engine, engine.name);
        assert.deepEqual(cipher.spec, spec);
        cipher.destroy();
      } else {
        const err = expectConfigError(() => engine.createCipher(spec, keys), CryptoErrorCode.unsupportedSpec);
        assert.match(err.message, new RegExp(engine.name));
      }
    }
    assert.ok(claimed > 0, `engine '${engine.name}' supports no spec at all`);
  });

  it('refuses specs that are no ESP transform, naming the field', () => {
    for (const spec of invalidSpecs) {
      assert.equal(engine.supports(spec), false, cipherSpecVariantName(spec));
      const err = expectConfigError(
        () => engine.createCipher(spec, keysFor(spec, 1)),
        CryptoErrorCode.invalidSpec,
      );
      assert.match(err.field, /^spec\./);
    }
  });

  it('refuses keys of the wrong length without echoing them', () => {
    for (const spec of representativeSpecs(allCipherSpecs().filter((s) => engine.supports(s)))) {
      const good = keysFor(spec, 2);
      const marker = new Uint8Array(good.encryptionKey.length + 1).fill(0xc3);
      const err = expectConfigError(
        () => engine.createCipher(spec, { ...good, encryptionKey: marker }),
        CryptoErrorCode.badKeyLength,
        'keys.encryptionKey',
      );
      assert.doesNotMatch(err.message, /c3c3|195/i);
      if (!isCombinedMode(spec.encryption)) {
        const short = new Uint8Array(Math.max(0, good.integrityKey.length - 1)).fill(0xc3);
        const err2 = expectConfigError(
          () =>
            engine.createCipher(spec, { ...good, integrityKey: spec.integrity === 'none' ? marker : short }),
          CryptoErrorCode.badKeyLength,
          'keys.integrityKey',
        );
        assert.doesNotMatch(err2.message, /c3c3|195/i);
      }
    }
  });
}

function describeVectors(engine: CryptoEngine): void {
  const loaded = loadVectors();
  it('the shared vector files load', () => {
    assert.ok(loaded.vectors.length >= 38, `only ${loaded.vectors.length} vectors in ${loaded.dir}`);
  });
  const others = loaded.vectors.filter((v) => !engine.supports(v.spec));
  if (others.length > 0) {
    const specs = [...new Set(others.map((v) => cipherSpecVariantName(v.spec)))].join(', ');
    it(`${others.length} vectors of other algorithms`, {
      skip: `${engine.name} does not implement ${specs}`,
    }, () => {});
  }
  for (const v of loaded.vectors.filter((x) => engine.supports(x.spec))) {
    it(`${v.file} ${v.id}`, () => {
      const lead = 5;
      const cipher = engine.createCipher(v.spec, v.keys);
      const batch = singlePacketBatch(v.plain, lead, v.seqHigh);
      if (!v.expectAuthFail) {
        cipher.seal(batch, 0, 1);
        assert.equal(batch.status[0], CryptoStatus.ok);
        assert.equal(
          hex(packetBytes(batch, 0)),
          hex(v.sealed),
          'sealed packet differs from the published one',
        );
        assertGuards(batch, lead);
      }
      const opened = singlePacketBatch(v.sealed, lead, v.seqHigh);
      cipher.open(opened, 0, 1);
      if (v.expectAuthFail) {
        assert.equal(opened.status[0], CryptoStatus.authFailed);
      } else {
        assert.equal(opened.status[0], CryptoStatus.ok);
        const icv = v.spec.icvBytes;
        const got = packetBytes(opened, 0);
        assert.equal(hex(got.subarray(0, got.length - icv)), hex(v.plain.subarray(0, v.plain.length - icv)));
        assert.equal(hex(got.subarray(got.length - icv)), hex(v.sealed.subarray(v.sealed.length - icv)));
      }
      assertGuards(opened, lead);
      cipher.destroy();
    });
  }
  for (const n of loaded.notApplicable) it(`${n.id}`, { skip: n.reason }, () => {});
}

const guardByte = 0x5c;

function singlePacketBatch(packet: Uint8Array, lead: number, seqHigh: number): PacketBatch {
  const buffer = new Uint8Array(lead + packet.length + 7).fill(guardByte);
  buffer.set(packet, lead);
  return {
    buffer,
    offset: Uint32Array.of(lead),
    length: Uint32Array.of(packet.length),
    seqHigh: Uint32Array.of(seqHigh),
    status: Uint8Array.of(0xee),
    count: 1,
  };
}

function assertGuards(batch: PacketBatch, lead: number): void {
  const b = batch.buffer;
  const end = lead + batch.length[0]!;
  assert.ok(
    b.subarray(0, lead).every((x) => x === guardByte),
    'wrote before the packet',
  );
  assert.ok(
    b.subarray(end).every((x) => x === guardByte),
    'wrote after the packet',
  );
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

function packetArbitrary(spec: CipherSpec): fc.Arbitrary<TestPacket & { gap: number }> {
  const g = cipherGeometry(spec);
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  return fc.record({
    spi: u32,
    seq: u32,
    seqHigh: u32,
    iv: fc.uint8Array({ minLength: g.ivBytes, maxLength: g.ivBytes }),
    payload: fc
      .integer({ min: 0, max: 2000 })
      .chain((n) => fc.uint8Array({ minLength: payloadLength(spec, n), maxLength: payloadLength(spec, n) })),
    gap: fc.integer({ min: 0, max: 9 }),
  });
}

function checkAgreement(
  engine: CryptoEngine,
  reference: CryptoEngine,
  spec: CipherSpec,
  numRuns: number,
): void {
  const encBytes = encryptionKeyBytes(spec);
  const authBytes = isCombinedMode(spec.encryption) ? 0 : integrityKeyBytes(spec.integrity);
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: encBytes, maxLength: encBytes }),
      fc.uint8Array({ minLength: authBytes, maxLength: authBytes }),
      fc.array(packetArbitrary(spec), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 0, max: 7 }),
      (encryptionKey, integrityKey, packets, lead) => {
        const keys = { encryptionKey, integrityKey };
        const plain = layOutPackets(spec, packets, { lead, gaps: packets.map((p) => p.gap), tail: 3 });
        const mine = copyBatch(plain);
        const theirs = copyBatch(plain);
        // Without ESN the high half must not matter: the reference sees zeros, the engine garbage.
        if (!spec.esn) theirs.seqHigh.fill(0);
        const cipher = engine.createCipher(spec, keys);
        const refCipher = reference.createCipher(spec, keys);
        cipher.seal(mine, 0, mine.count);
        refCipher.seal(theirs, 0, theirs.count);
        assert.deepEqual([...mine.status], new Array(mine.count).fill(CryptoStatus.ok));
        assert.equal(hex(mine.buffer), hex(theirs.buffer), 'sealed output differs from the reference');

        cipher.open(mine, 0, mine.count);
        assert.deepEqual([...mine.status], new Array(mine.count).fill(CryptoStatus.ok));
        refCipher.open(theirs, 0, theirs.count);
        for (let k = 0; k < plain.count; k++) {
          const n = plain.length[k]! - spec.icvBytes;
          const want = hex(packetBytes(plain, k).subarray(0, n));
          assert.equal(
            hex(packetBytes(mine, k).subarray(0, n)),
            want,
            `packet ${k} did not open to its plaintext`,
          );
          assert.equal(hex(packetBytes(theirs, k).subarray(0, n)), want);
        }
        cipher.destroy();
        refCipher.destroy();
      },
    ),
    { numRuns },
  );
}

/** The payload after a failed open: untouched, or zeroed; never the plaintext. */
function assertNoPlaintext(
  got: Uint8Array,
  tampered: Uint8Array,
  plaintext: Uint8Array,
  encrypts: boolean,
  what: string,
): void {
  const unchanged = hex(got) === hex(tampered);
  const zeroed = got.every((x) => x === 0);
  assert.ok(unchanged || zeroed, `${what}: payload neither left as it was nor zeroed after a failed open`);
  if (plaintext.length > 0 && encrypts)
    assert.notEqual(hex(got), hex(plaintext), `${what}: plaintext released`);
}

function checkTampering(engine: CryptoEngine, spec: CipherSpec): void {
  const g = cipherGeometry(spec);
  const keys = keysFor(spec, 3);
  const cipher = engine.createCipher(spec, keys);
  const packets = samplePackets(spec, 3, 48, 4);
  const plain = layOutPackets(spec, packets, { lead: 1, gaps: [2, 3] });
  const sealed = copyBatch(plain);
  cipher.seal(sealed, 0, sealed.count);
  assert.deepEqual([...sealed.status], [0, 0, 0]);

  const start = 8 + g.ivBytes;
  const encrypts = spec.encryption !== 'null' && spec.encryption !== 'aes-gmac';
  const o = sealed.offset[1]!;
  const n = sealed.length[1]!;
  const plaintext1 = packetBytes(plain, 1).slice(start, n - g.icvBytes);
  // Every byte of the middle packet, flipped in turn: the packet fails, its neighbours open.
  for (let k = 0; k < n; k++) {
    const t = copyBatch(sealed);
    t.buffer[o + k]! ^= 0x5a;
    const tamperedPayload = packetBytes(t, 1).slice(start, n - g.icvBytes);
    t.status.fill(0xee);
    cipher.open(t, 0, t.count);
    assert.deepEqual(
      [...t.status],
      [CryptoStatus.ok, CryptoStatus.authFailed, CryptoStatus.ok],
      `byte ${k} flipped`,
    );
    const got = packetBytes(t, 1).subarray(start, n - g.icvBytes);
    assertNoPlaintext(got, tamperedPayload, plaintext1, encrypts, `byte ${k}`);
    for (const j of [0, 2]) {
      const m = plain.length[j]! - g.icvBytes;
      assert.equal(
        hex(packetBytes(t, j).subarray(0, m)),
        hex(packetBytes(plain, j).subarray(0, m)),
        `neighbour ${j}`,
      );
    }
  }
  if (spec.esn) {
    const t = copyBatch(sealed);
    t.seqHigh[1]! ^= 1;
    cipher.open(t, 0, t.count);
    assert.deepEqual(
      [...t.status],
      [CryptoStatus.ok, CryptoStatus.authFailed, CryptoStatus.ok],
      'ESN high half',
    );
  }
  cipher.destroy();
}

function checkBadInput(engine: CryptoEngine, reference: CryptoEngine, spec: CipherSpec): void {
  const g = cipherGeometry(spec);
  const keys = keysFor(spec, 5);
  const overhead = 8 + g.ivBytes + g.icvBytes;
  const packets = samplePackets(spec, 5, 64, 6);
  const plain = layOutPackets(spec, packets, { lead: 3, gaps: [1, 1, 1, 1], tail: 2 });
  const size = plain.buffer.length;
  // Entries 1 and 3 become bad in different ways; 0, 2 and 4 stay good.
  const makeBad = (b: PacketBatch, variant: 'offset' | 'overflow' | 'short' | 'block') => {
    if (variant === 'offset') b.offset[1] = size + 10;
    if (variant === 'overflow') b.length[1] = size - b.offset[1]! + 1;
    if (variant === 'short') b.length[3] = overhead - 1;
    if (variant === 'block') b.length[3] = b.length[3]! - 1;
  };
  const variants: ('offset' | 'overflow' | 'short' | 'block')[][] = [
    ['offset', 'short'],
    ['overflow', 'short'],
  ];
  if (spec.encryption === 'aes-cbc') variants.push(['offset', 'block']);
  const expected: Record<string, number> = {
    offset: CryptoStatus.badDescriptor,
    overflow: CryptoStatus.badDescriptor,
    short: CryptoStatus.badLength,
    block: CryptoStatus.badLength,
  };
  const cipher = engine.createCipher(spec, keys);
  const refCipher = reference.createCipher(spec, keys);
  const good = copyBatch(plain);
  refCipher.seal(good, 0, good.count);

  for (const [bad1, bad3] of variants) {
    const b = copyBatch(plain);
    makeBad(b, bad1!);
    makeBad(b, bad3!);
    b.status.fill(0xee);
    cipher.seal(b, 0, b.count);
    const want = [0, expected[bad1!]!, 0, expected[bad3!]!, 0];
    assert.deepEqual([...b.status], want, `seal with ${bad1}/${bad3}`);
    // Good packets sealed exactly as alone; the bad ones' bytes untouched.
    for (const k of [0, 2, 4]) assert.equal(hex(packetBytes(b, k)), hex(packetBytes(good, k)), `packet ${k}`);
    for (const k of [1, 3])
      assert.equal(hex(bytesWhere(b, plain, k)), hex(packetBytes(plain, k)), `bad ${k}`);

    const s = copyBatch(good);
    makeBad(s, bad1!);
    makeBad(s, bad3!);
    s.status.fill(0xee);
    cipher.open(s, 0, s.count);
    assert.deepEqual([...s.status], want, `open with ${bad1}/${bad3}`);
    for (const k of [0, 2, 4]) {
      const m = plain.length[k]! - g.icvBytes;
      assert.equal(hex(packetBytes(s, k).subarray(0, m)), hex(packetBytes(plain, k).subarray(0, m)));
    }
  }

  // A sub-range touches only its entries; ranges outside the arrays are a caller bug and throw.
  const sub = copyBatch(plain);
  sub.status.fill(0xee);
  cipher.seal(sub, 1, 3);
  assert.deepEqual([...sub.status], [0xee, 0, 0, 0xee, 0xee]);
  assert.equal(hex(packetBytes(sub, 0)), hex(packetBytes(plain, 0)));
  assert.equal(hex(packetBytes(sub, 3)), hex(packetBytes(plain, 3)));
  assert.equal(hex(packetBytes(sub, 1)), hex(packetBytes(good, 1)));
  cipher.seal(sub, 2, 2);
  assert.throws(() => cipher.seal(sub, 0, 6), RangeError);
  assert.throws(() => cipher.open(sub, 3, 2), RangeError);
  assert.throws(() => cipher.open(sub, -1, 1), RangeError);
  cipher.destroy();
  refCipher.destroy();
}

/** Batch b's bytes where the plain layout put packet k, before its descriptor was made bad. */
function bytesWhere(b: PacketBatch, plain: PacketBatch, k: number): Uint8Array {
  const o = plain.offset[k]!;
  return b.buffer.subarray(o, o + plain.length[k]!);
}

/** Typed arrays among the cipher's own fields whose names say they hold key material. */
function keyFields(cipher: SaCipher): [string, Uint8Array | Uint32Array][] {
  return Object.entries(cipher).filter(
    (e): e is [string, Uint8Array | Uint32Array] =>
      /key|nonce|^xk/i.test(e[0]) && (e[1] instanceof Uint8Array || e[1] instanceof Uint32Array),
  );
}

function checkLifecycle(
  engine: CryptoEngine,
  reference: CryptoEngine,
  spec: CipherSpec,
  keyFieldsInJs: boolean,
): void {
  const keys = keysFor(spec, 7);
  const plain = layOutPackets(spec, samplePackets(spec, 2, 100, 8));
  const want = copyBatch(plain);
  const refCipher = reference.createCipher(spec, keys);
  refCipher.seal(want, 0, want.count);

  // The engine keeps its own copy of the keys: the caller zeroing them changes nothing.
  const callerKeys = { encryptionKey: keys.encryptionKey.slice(), integrityKey: keys.integrityKey.slice() };
  const cipher: SaCipher = engine.createCipher(spec, callerKeys);
  callerKeys.encryptionKey.fill(0);
  callerKeys.integrityKey.fill(0);
  const got = copyBatch(plain);
  cipher.seal(got, 0, got.count);
  assert.equal(hex(got.buffer), hex(want.buffer));

  const fields = keyFields(cipher);
  // Integrity-only specs may keep their keyed HMAC state in hash objects rather than typed arrays.
  if (keyFieldsInJs && encryptionKeyBytes(spec) > 0) {
    const held = fields.filter(([, a]) => a.some((x) => x !== 0));
    assert.ok(held.length > 0, `no key material found in the cipher's fields (${fields.map((f) => f[0])})`);
  }
  cipher.destroy();
  if (keyFieldsInJs)
    for (const [name, a] of fields)
      assert.ok(
        a.every((x) => x === 0),
        `${name} not zeroed`,
      );
  expectConfigError(() => cipher.seal(copyBatch(plain), 0, 1), CryptoErrorCode.cipherDestroyed);
  expectConfigError(() => cipher.open(copyBatch(want), 0, 1), CryptoErrorCode.cipherDestroyed);
  cipher.destroy();
  refCipher.destroy();
}

/**
 * RFC 8750 changes only where the IV comes from: an implicit-IV packet is the explicit-IV packet whose IV
 * is the 64-bit sequence number (high half zero without ESN), with those 8 bytes removed. Checked against
 * the engine's own explicit-IV path, which the published vectors pin down.
 */
function checkImplicitIv(engine: CryptoEngine, spec: CipherSpec): void {
  const explicit: CipherSpec = { ...spec, implicitIv: false };
  const keys = keysFor(spec, 9);
  const implicitCipher = engine.createCipher(spec, keys);
  const explicitCipher = engine.createCipher(explicit, keys);
  for (const [seqHigh, seq] of [
    [0, 1],
    [0x01020304, 0xfffffffe],
    [0xffffffff, 0x80000000],
  ] as const) {
    const payload = randomBytes(37, seq);
    const iv = new Uint8Array(8);
    new DataView(iv.buffer).setUint32(0, spec.esn ? seqHigh : 0);
    new DataView(iv.buffer).setUint32(4, seq);
    const a = layOutPackets(spec, [{ spi: 0x0a0b0c0d, seq, seqHigh, iv: new Uint8Array(0), payload }]);
    const b = layOutPackets(explicit, [{ spi: 0x0a0b0c0d, seq, seqHigh, iv, payload }]);
    implicitCipher.seal(a, 0, 1);
    explicitCipher.seal(b, 0, 1);
    const wire = packetBytes(b, 0);
    const withoutIv = new Uint8Array([...wire.subarray(0, 8), ...wire.subarray(16)]);
    assert.equal(hex(packetBytes(a, 0)), hex(withoutIv), `seqHigh ${seqHigh} seq ${seq}`);
    implicitCipher.open(a, 0, 1);
    assert.equal(a.status[0], CryptoStatus.ok);
  }
  implicitCipher.destroy();
  explicitCipher.destroy();
}
