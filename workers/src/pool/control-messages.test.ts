import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { ControlWord, controlWords } from '../shared/worker-control.ts';
import type { PoolDriver } from '../testing/pool-driver.ts';
import { gcmPair, installSpec } from '../testing/sa-fixtures.ts';
import { outboundPolicy, spdOf, startTestPool } from '../testing/test-pool.ts';
import type { WorkerPool } from './worker-pool.ts';

describe('control messages to workers: versioned, applied in order, acknowledged by every worker', () => {
  let pool: WorkerPool;
  let driver: PoolDriver;
  before(async () => {
    ({ pool, driver } = await startTestPool());
  });
  after(() => pool.close());

  it('each message takes the next version; every worker reports having applied it', async () => {
    const installed = await pool.install(installSpec('sa-1', gcmPair(0x2001).out));
    const snapshot = spdOf([outboundPolicy('p-1', { sa: { name: 'sa-1' } })]);
    const swapped = await pool.applySpd(snapshot);
    assert.equal(installed.acknowledged, 2);
    assert.equal(swapped.version, installed.version + 1);
    const owner = installed.placement.owner;
    for (let w = 0; w < 2; w++) {
      const probe = await pool.probe(w);
      assert.equal(probe.version, swapped.version);
      assert.equal(probe.spdVersion, snapshot.version);
      assert.equal(probe.placements, 1);
      assert.deepEqual(probe.owned, w === owner ? ['sa-1'] : []);
    }
  });

  it('an install is reported only once the slowest worker applied it', async () => {
    await pool.fault(1, 'stall');
    let settled = false;
    const install = pool.install(installSpec('sa-2', gcmPair(0x2002).out)).then((ack) => {
      settled = true;
      return ack;
    });
    const version = pool.controlVersion;
    const worker0 = controlWords(pool.storage.control, 0);
    await driver.settle(() => Atomics.load(worker0, ControlWord.acked) >= version);
    for (let i = 0; i < 20; i++) await yieldToEvents();
    assert.equal(settled, false, 'worker 1 has not applied the install yet');
    assert.ok(Atomics.load(controlWords(pool.storage.control, 1), ControlWord.acked) < version);
    pool.resume(1);
    const ack = await install;
    assert.equal(ack.version, version);
    assert.equal(ack.acknowledged, 2);
    assert.equal((await pool.probe(1)).version, version);
  });

  it('a removal destroys the owner runtime and leaves no worker knowing the SA', async () => {
    const owner = pool.placement('sa-1')!.owner;
    const removed = await pool.remove('sa-1');
    assert.equal(removed.nextSequence, 1n, 'the owner answers its exact next sequence number');
    const probe = await pool.probe(owner);
    assert.ok(probe.destroyed.includes('sa-1'));
    assert.ok(!probe.owned.includes('sa-1'));
    for (let w = 0; w < 2; w++) assert.equal((await pool.probe(w)).placements, 1);
    assert.equal(pool.placement('sa-1'), undefined);
    assert.equal(pool.saCounters('sa-1'), undefined);
  });

  it('a message one worker cannot apply is reported and undone everywhere', async () => {
    const pair = gcmPair(0x2003);
    await pool.install(installSpec('in-1', pair.in));
    // Same SPI and addresses in the same domain: the owner's inbound SAD refuses the second one.
    await assert.rejects(pool.install(installSpec('in-1-twin', pair.in)), /could not install SA 'in-1-twin'/);
    assert.equal(pool.placement('in-1-twin'), undefined);
    for (let w = 0; w < 2; w++) assert.equal((await pool.probe(w)).placements, 2);
    await pool.remove('in-1');
  });

  it('a bad configuration is refused before any worker hears of it, naming the field', async () => {
    const version = pool.controlVersion;
    const bad = installSpec('bad', { ...gcmPair(0x2004).out, replayWindow: 7 });
    await assert.rejects(pool.install(bad), /replayWindow/);
    assert.equal(pool.controlVersion, version);
  });

  it('a removal in flight when its owner dies is done: the replacement never holds the SA', async () => {
    const placed = await pool.install(installSpec('doomed', gcmPair(0x2006).out));
    const owner = placed.placement.owner;
    await pool.whenSpareReady();
    await pool.fault(owner, 'stall');
    const removal = pool.remove('doomed');
    await pool.fault(owner, 'terminate');
    const ack = await removal;
    assert.equal(ack.acknowledged, 2);
    assert.equal(
      ack.nextSequence,
      1n + BigInt(pool.options.sequenceMargin),
      'no exact answer: published + margin',
    );
    await pool.whenReady(owner);
    const probe = await pool.probe(owner);
    assert.ok(!probe.owned.includes('doomed'));
    assert.equal(pool.placement('doomed'), undefined);
    assert.equal(pool.restarts(owner), 1);
  });

  it('the caller keeps its key bytes: the pool works on copies', async () => {
    const spec = installSpec('sa-3', gcmPair(0x2005).out);
    const before = Uint8Array.from(spec.keys.encryptionKey);
    await pool.install(spec);
    await pool.remove('sa-3');
    assert.deepEqual(spec.keys.encryptionKey, before);
  });
});
