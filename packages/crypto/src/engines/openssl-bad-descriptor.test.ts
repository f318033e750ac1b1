import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CipherSpec } from '../cipher-spec.ts';
import { CryptoStatus, type PacketBatch } from '../packet-batch.ts';
import { copyBatch, layOutPackets, packetBytes } from '../test-batch.ts';
import { nodeEngine } from './node.ts';
import { opensslEngine } from './openssl.ts';
import { loadNativeAddon, type NativeAddon } from './openssl-addon.ts';

/**
 * The addon trusts nothing it is handed: descriptors that point outside the buffer, lengths that wrap in
 * 32 bits, ranges beyond the arrays, wrong array types, detached and shrunk buffers. Each must come back
 * as a per-packet status or a thrown error, never as a read or write outside the buffer (which would
 * crash this process or show in the guard bytes).
 */

const gcm: CipherSpec = {
  encryption: 'aes-gcm',
  keyBits: 128,
  icvBytes: 16,
  integrity: 'none',
  esn: true,
  implicitIv: false,
};
const cbc: CipherSpec = { ...gcm, encryption: 'aes-cbc', keyBits: 256, integrity: 'hmac-sha256-128' };
const keys = {
  gcm: { encryptionKey: new Uint8Array(20).fill(7), integrityKey: new Uint8Array(0) },
  cbc: { encryptionKey: new Uint8Array(32).fill(7), integrityKey: new Uint8Array(32).fill(9) },
};

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

function sample(spec: CipherSpec, count: number): PacketBatch {
  const ivBytes = spec.encryption === 'aes-cbc' ? 16 : 8;
  return layOutPackets(
    spec,
    Array.from({ length: count }, (_, k) => ({
      spi: 0x100 + k,
      seq: k,
      seqHigh: 1,
      iv: new Uint8Array(ivBytes).fill(k),
      payload: new Uint8Array(48).fill(0x30 + k),
    })),
    { lead: 4, gaps: new Array(count).fill(4), tail: 4 },
  );
}

function addon(): NativeAddon {
  const load = loadNativeAddon();
  assert.ok(load.addon, load.addon === undefined ? load.reason : '');
  return load.addon;
}

describe('openssl engine: bad descriptors become statuses', () => {
  it('offset past the end, offset + length past the end, and u32-wrapping sums are badDescriptor; the rest is sealed', () => {
    const plain = sample(gcm, 6);
    const want = copyBatch(plain);
    nodeEngine.createCipher(gcm, keys.gcm).seal(want, 0, want.count);
    const size = plain.buffer.length;
    const b = copyBatch(plain);
    b.offset[1] = size + 1;
    b.length[2] = size; // starts inside, ends outside
    b.offset[3] = 0xfffffff0; // offset + length wraps to a small number in 32 bits
    b.length[3] = 0x20;
    b.offset[4] = 1;
    b.length[4] = 0xffffffff;
    b.status.fill(0xee);
    const cipher = opensslEngine.createCipher(gcm, keys.gcm);
    cipher.seal(b, 0, b.count);
    const bad = CryptoStatus.badDescriptor;
    assert.deepEqual([...b.status], [0, bad, bad, bad, bad, 0]);
    for (const k of [0, 5]) assert.equal(hex(packetBytes(b, k)), hex(packetBytes(want, k)));
    // Nothing but packets 0 and 5 changed.
    const touched = copyBatch(plain);
    for (const k of [0, 5]) touched.buffer.set(packetBytes(want, k), plain.offset[k]!);
    assert.equal(hex(b.buffer), hex(touched.buffer));
    cipher.open(b, 0, b.count);
    assert.deepEqual([...b.status], [0, bad, bad, bad, bad, 0]);
    cipher.destroy();
  });

  it('lengths that do not fit the cipher are badLength: shorter than the overhead, CBC not a block multiple', () => {
    const b = sample(cbc, 4);
    b.length[1] = 8 + 16 + 16 - 1;
    b.length[2] = b.length[2]! - 1;
    b.length[3] = 0;
    const cipher = opensslEngine.createCipher(cbc, keys.cbc);
    cipher.seal(b, 0, b.count);
    const short = CryptoStatus.badLength;
    assert.deepEqual([...b.status], [0, short, short, short]);
    cipher.destroy();
  });

  it('the buffer is the view, not the memory behind it: a packet beyond a subarray view is badDescriptor', () => {
    const backing = new Uint8Array(4096).fill(0x5c);
    const view = backing.subarray(1000, 1200);
    const b: PacketBatch = {
      buffer: view,
      offset: Uint32Array.of(0, 150),
      length: Uint32Array.of(96, 96),
      seqHigh: new Uint32Array(2),
      status: new Uint8Array(2),
      count: 2,
    };
    const cipher = opensslEngine.createCipher(gcm, keys.gcm);
    cipher.seal(b, 0, 2);
    assert.deepEqual([...b.status], [CryptoStatus.ok, CryptoStatus.badDescriptor]);
    assert.ok(backing.subarray(0, 1000).every((x) => x === 0x5c));
    assert.ok(backing.subarray(1096).every((x) => x === 0x5c));
    cipher.destroy();
  });

  it('a detached buffer, an empty buffer and a shrunk resizable buffer are read as their current size', () => {
    const cipher = opensslEngine.createCipher(gcm, keys.gcm);
    const descriptors = {
      offset: Uint32Array.of(0, 0, 64),
      length: Uint32Array.of(0, 96, 96),
      seqHigh: new Uint32Array(3),
      status: new Uint8Array(3),
      count: 3,
    };
    const detachable = new ArrayBuffer(256);
    const detached = new Uint8Array(detachable);
    detachable.transfer();
    assert.equal(detached.length, 0);
    const bad = CryptoStatus.badDescriptor;
    for (const buffer of [detached, new Uint8Array(0)]) {
      const b = { ...descriptors, buffer, status: new Uint8Array(3) };
      cipher.seal(b, 0, 3);
      assert.deepEqual([...b.status], [CryptoStatus.badLength, bad, bad]);
    }
    const resizable = new ArrayBuffer(256, { maxByteLength: 256 });
    const tracking = new Uint8Array(resizable);
    resizable.resize(100);
    const b = { ...descriptors, buffer: tracking, status: new Uint8Array(3) };
    cipher.seal(b, 0, 3);
    assert.deepEqual([...b.status], [CryptoStatus.badLength, CryptoStatus.ok, bad]);
    cipher.destroy();
  });

  it('random descriptors over a guarded buffer: every status is set, and nothing outside the view changes', () => {
    const cipher = opensslEngine.createCipher(gcm, keys.gcm);
    const cbcCipher = opensslEngine.createCipher(cbc, keys.cbc);
    const u32 = fc.oneof(
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom(0xffffffff, 0xfffffff0, 0x80000000, 0x7fffffff),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(u32, u32, u32), { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        (entries, useCbc, open) => {
          const backing = new Uint8Array(64 + 256 + 64).fill(0x5c);
          const view = backing.subarray(64, 64 + 256);
          const b: PacketBatch = {
            buffer: view,
            offset: Uint32Array.from(entries.map((e) => e[0])),
            length: Uint32Array.from(entries.map((e) => e[1])),
            seqHigh: Uint32Array.from(entries.map((e) => e[2])),
            status: new Uint8Array(entries.length).fill(0xee),
            count: entries.length,
          };
          const c = useCbc ? cbcCipher : cipher;
          if (open) c.open(b, 0, b.count);
          else c.seal(b, 0, b.count);
          entries.forEach(([o, n], k) => {
            const s = b.status[k]!;
            if (o + n > view.length) assert.equal(s, CryptoStatus.badDescriptor);
            else
              assert.ok(s === CryptoStatus.ok || s === CryptoStatus.badLength || (open && s === 1), `${s}`);
          });
          assert.ok(backing.subarray(0, 64).every((x) => x === 0x5c));
          assert.ok(backing.subarray(64 + 256).every((x) => x === 0x5c));
        },
      ),
      { numRuns: 300 },
    );
    cipher.destroy();
    cbcCipher.destroy();
  });
});

describe('openssl engine: bad ranges and arguments throw before any packet is touched', () => {
  it('a count larger than the arrays, from > to, and non-integer or negative bounds are RangeErrors', () => {
    const b = sample(gcm, 3);
    const before = hex(b.buffer);
    const cipher = opensslEngine.createCipher(gcm, keys.gcm);
    for (const [from, to] of [
      [0, 4],
      [2, 1],
      [-1, 2],
      [0.5, 2],
      [0, Number.NaN],
      [0, Number.POSITIVE_INFINITY],
      [0, 2 ** 32],
    ] as const) {
      b.status.fill(0xee);
      assert.throws(() => cipher.seal(b, from, to), RangeError, `[${from}, ${to})`);
      assert.throws(() => cipher.open(b, from, to), RangeError, `[${from}, ${to})`);
      assert.deepEqual([...b.status], [0xee, 0xee, 0xee]);
    }
    // The range is bounded by the shortest array, whichever it is.
    for (const field of ['offset', 'length', 'seqHigh', 'status'] as const) {
      const short = { ...b, [field]: b[field].subarray(0, 2) };
      assert.throws(() => cipher.seal(short, 0, 3), RangeError, field);
    }
    assert.equal(hex(b.buffer), before);
    cipher.seal(b, 3, 3);
    assert.equal(hex(b.buffer), before);
    cipher.destroy();
  });

  it('arrays of the wrong type, and missing arguments, are TypeErrors', () => {
    const b = sample(gcm, 2);
    const cipher = opensslEngine.createCipher(gcm, keys.gcm);
    const wrong: [keyof PacketBatch, unknown][] = [
      ['buffer', new Uint16Array(64)],
      ['buffer', Buffer.alloc(0).buffer],
      ['offset', Float64Array.of(0, 0)],
      ['offset', Int32Array.of(0, 0)],
      ['length', [96, 96]],
      ['seqHigh', new BigUint64Array(2)],
      ['status', new Uint32Array(2)],
      ['status', new DataView(new ArrayBuffer(2))],
      ['buffer', undefined],
    ];
    for (const [field, value] of wrong) {
      const bad = { ...b, [field]: value } as unknown as PacketBatch;
      assert.throws(() => cipher.seal(bad, 0, 2), TypeError, `${field}: ${String(value)}`);
    }
    cipher.destroy();
  });

  it('the addon refuses handles it did not make and handles already destroyed', () => {
    const native = addon();
    const b = sample(gcm, 1);
    const args = [b.buffer, b.offset, b.length, b.seqHigh, b.status, 0, 1] as const;
    for (const handle of [{}, null, 42, 'sa', Symbol('sa'), () => {}]) {
      assert.throws(() => native.seal(handle as never, ...args), TypeError);
      assert.throws(() => native.destroySa(handle as never), TypeError);
    }
    const handle = native.createSa(0, 128, 16, 0, false, false, new Uint8Array(20), new Uint8Array(0));
    native.destroySa(handle);
    native.destroySa(handle);
    assert.throws(() => native.open(handle, ...args), /destroyed/);
    assert.throws(() => (native.seal as (...a: unknown[]) => void)(handle, b.buffer), TypeError);
  });

  it('the addon refuses algorithm codes, key sizes and key lengths that do not go together', () => {
    const native = addon();
    const none = new Uint8Array(0);
    const cases: [number, number, number, number, boolean, Uint8Array, Uint8Array][] = [
      [9, 128, 16, 0, false, new Uint8Array(20), none],
      [0, 100, 16, 0, false, new Uint8Array(16), none],
      [0, 128, 10, 0, false, new Uint8Array(20), none],
      [0, 128, 16, 0, false, new Uint8Array(16), none],
      [0, 128, 16, 1, false, new Uint8Array(20), new Uint8Array(32)],
      [3, 128, 16, 1, true, new Uint8Array(16), new Uint8Array(32)],
      [3, 128, 16, 1, false, new Uint8Array(16), none],
      [4, 0, 0, 0, false, none, none],
      [2, 128, 16, 0, false, new Uint8Array(20), none],
    ];
    for (const [enc, bits, icv, integ, implicitIv, encKey, intKey] of cases) {
      assert.throws(() => native.createSa(enc, bits, icv, integ, false, implicitIv, encKey, intKey), Error);
    }
  });
});
