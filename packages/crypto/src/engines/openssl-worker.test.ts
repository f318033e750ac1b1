import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { CipherKeys, CipherSpec } from '../cipher-spec.ts';
import { CryptoStatus, type PacketBatch } from '../packet-batch.ts';
import { copyBatch, layOutPackets, packetBytes } from '../test-batch.ts';
import { nodeEngine } from './node.ts';
import { loadNativeAddon } from './openssl-addon.ts';
import type { WorkerJob, WorkerReport } from './openssl-worker.fixture.ts';

const gcm: CipherSpec = {
  encryption: 'aes-gcm',
  keyBits: 256,
  icvBytes: 16,
  integrity: 'none',
  esn: true,
  implicitIv: false,
};
const cbc: CipherSpec = { ...gcm, encryption: 'aes-cbc', icvBytes: 32, integrity: 'hmac-sha512-256' };

interface Lane {
  readonly spec: CipherSpec;
  readonly keys: CipherKeys;
  /** The lane's packets, at their offsets in the shared buffer. */
  readonly plain: PacketBatch;
}

/** Two SAs whose packets sit in disjoint halves of one buffer. */
function lanes(): Lane[] {
  const make = (spec: CipherSpec, keys: CipherKeys, lead: number, seed: number): Lane => {
    const ivBytes = spec.encryption === 'aes-cbc' ? 16 : 8;
    const packets = Array.from({ length: 24 }, (_, k) => ({
      spi: 0x5000 + seed,
      seq: k + 1,
      seqHigh: seed,
      iv: new Uint8Array(ivBytes).fill(k + seed),
      payload: new Uint8Array(16 * ((k % 5) + 1)).fill(seed * 16 + k),
    }));
    return { spec, keys, plain: layOutPackets(spec, packets, { lead, gaps: new Array(24).fill(3) }) };
  };
  return [
    make(gcm, { encryptionKey: new Uint8Array(36).fill(1), integrityKey: new Uint8Array(0) }, 0, 1),
    make(
      cbc,
      { encryptionKey: new Uint8Array(32).fill(2), integrityKey: new Uint8Array(64).fill(3) },
      8192,
      2,
    ),
  ];
}

function runWorker(job: WorkerJob): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./openssl-worker.fixture.ts', import.meta.url), { workerData: job });
    let report: WorkerReport | undefined;
    worker.once('message', (m: WorkerReport) => {
      report = m;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0 || report === undefined) reject(new Error(`worker exited with ${code} and no report`));
      else resolve(report);
    });
  });
}

function jobFor(lane: Lane, op: 'seal' | 'open', shared: SharedArrayBuffer, rounds: number): WorkerJob {
  const { spec, keys, plain } = lane;
  return {
    spec,
    keys,
    op,
    buffer: shared,
    offset: plain.offset,
    length: plain.length,
    seqHigh: plain.seqHigh,
    rounds,
  };
}

describe('openssl engine in worker threads', () => {
  it('two workers, each with its own contexts, seal and open their packets in one SharedArrayBuffer at once', async () => {
    const [a, b] = lanes() as [Lane, Lane];
    const shared = new SharedArrayBuffer(16384);
    const memory = new Uint8Array(shared);
    memory.set(a.plain.buffer, 0);
    memory.set(b.plain.buffer.subarray(8192), 8192);
    const original = memory.slice();
    const mainThreadSas = loadNativeAddon().addon?.liveSas();

    const sealed = await Promise.all([
      runWorker(jobFor(a, 'seal', shared, 300)),
      runWorker(jobFor(b, 'seal', shared, 300)),
    ]);
    for (const r of sealed) {
      assert.equal(r.available, true, `the worker could not load the addon: ${r.reason}`);
      assert.deepEqual(r.status, new Array(24).fill(CryptoStatus.ok));
      // Each thread counts only its own contexts: the one it left for its finalizer.
      assert.equal(r.liveSas, 1);
    }
    assert.equal(loadNativeAddon().addon?.liveSas(), mainThreadSas);
    // What node:crypto makes of the same packets, byte for byte.
    for (const lane of [a, b]) {
      const want = copyBatch(lane.plain);
      nodeEngine.createCipher(lane.spec, lane.keys).seal(want, 0, want.count);
      for (let k = 0; k < want.count; k++) {
        const o = want.offset[k]!;
        assert.deepEqual(memory.subarray(o, o + want.length[k]!), packetBytes(want, k), `packet ${k}`);
      }
    }

    const opened = await Promise.all([
      runWorker(jobFor(a, 'open', shared, 300)),
      runWorker(jobFor(b, 'open', shared, 300)),
    ]);
    for (const r of opened) assert.deepEqual(r.status, new Array(24).fill(CryptoStatus.ok));
    for (const lane of [a, b]) {
      for (let k = 0; k < lane.plain.count; k++) {
        const o = lane.plain.offset[k]!;
        const end = o + lane.plain.length[k]! - lane.spec.icvBytes;
        assert.deepEqual(memory.subarray(o, end), original.subarray(o, end), `packet ${k} opened`);
      }
    }
  });
});
