import assert from 'node:assert/strict';
import { test } from 'node:test';
import { espLink, innerPacket } from '@espresso/esp/testing';
import { createFlowKey, extractFlowKey, writeU32 } from '@espresso/wire';
import fc from 'fast-check';
import { createSteeringStorage, SpiSteeringTable } from '../shared/spi-steering-table.ts';
import { flowHash, workerOfHash } from './flow-hash.ts';
import { PacketSteering } from './packet-steering.ts';

function keyOf(packet: Uint8Array) {
  const key = createFlowKey();
  assert.equal(extractFlowKey(packet, 0, packet.length, key), -1);
  return key;
}

test('the flow hash is symmetric: both directions of a flow get one worker', () => {
  fc.assert(
    fc.property(fc.ipV4(), fc.ipV4(), fc.integer({ min: 0, max: 255 }), (src, dst, seed) => {
      const forward = innerPacket({ version: 4, src, dst, payloadBytes: 4, seed });
      const back = forward.slice();
      back.set(forward.subarray(16, 20), 12);
      back.set(forward.subarray(12, 16), 16);
      back.set(forward.subarray(22, 24), 20);
      back.set(forward.subarray(20, 22), 22);
      assert.equal(flowHash(keyOf(forward)), flowHash(keyOf(back)));
    }),
  );
});

test('the flow hash spreads flows evenly over the workers', () => {
  const counts = new Array<number>(4).fill(0);
  for (let seed = 0; seed < 4000; seed++) {
    const key = keyOf(innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: 4, seed }));
    counts[workerOfHash(flowHash(key), 4)]!++;
  }
  for (const n of counts) assert.ok(n > 850 && n < 1150, `${counts}`);
  assert.equal(workerOfHash(0xffffffff, 3), 2);
  assert.equal(workerOfHash(0, 3), 0);
});

test('inbound steering reads the SPI of ESP and ESP in UDP, in IPv4 and IPv6, and follows the table', () => {
  const table = new SpiSteeringTable(createSteeringStorage(16));
  const steering = new PacketSteering(4, table);
  for (const outerVersion of [4, 6] as const) {
    for (const encap of [false, true]) {
      const link = espLink({ spi: 0x4242, outerVersion, encap });
      const v = link.send([
        innerPacket({
          version: outerVersion === 4 ? 4 : 6,
          src: outerVersion === 4 ? '10.1.0.1' : 'fd00:1::1',
          dst: outerVersion === 4 ? '10.2.0.2' : 'fd00:2::2',
          payloadBytes: 10,
        }),
      ]);
      const [packet] = link.wire(v);
      // ESP-in-UDP here goes to port 4501 (the fixtures' peer port): known only once an SA says so.
      if (encap) steering.espPorts[4501] = 1;
      assert.equal(steering.spiOf(packet!, 0, packet!.length), 0x4242, `v${outerVersion} encap=${encap}`);
      assert.equal(steering.inbound(packet!, 0, packet!.length), 0x4242 % 4);
      table.set(0x4242, 3);
      assert.equal(steering.inbound(packet!, 0, packet!.length), 3);
      table.delete(0x4242);
      steering.espPorts[4501] = 0;
      link.out.destroy();
      link.in.destroy();
    }
  }
});

test('UDP that is not ESP (another port, or IKE behind the non-ESP marker) carries no SPI', () => {
  const steering = new PacketSteering(2, new SpiSteeringTable(createSteeringStorage(16)));
  const udp = innerPacket({ version: 4, src: '192.0.2.1', dst: '198.51.100.2', payloadBytes: 16 });
  assert.equal(steering.spiOf(udp, 0, udp.length), 0);
  // Destination port 4500 with a zero marker: IKE.
  udp[22] = 0x11;
  udp[23] = 0x94;
  writeU32(udp, 28, 0);
  assert.equal(steering.spiOf(udp, 0, udp.length), 0);
  writeU32(udp, 28, 0x1234);
  assert.equal(steering.spiOf(udp, 0, udp.length), 0x1234);
  assert.equal(steering.spiOf(udp.subarray(0, 10), 0, 10), 0);
});
