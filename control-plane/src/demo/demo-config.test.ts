import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createSaRuntime,
  EspInbound,
  EspOutbound,
  InboundSaTable,
  type SaConfig,
  VERDICT_FORWARD,
} from '@espresso/esp';
import { innerPacket, packetAt, vectorOf } from '@espresso/esp/testing';
import { readU16, readU32 } from '@espresso/wire';
import { checkConfigFile } from '../config/config-file.ts';
import { demoConfigs, FIRST_SPI, SA_GROUP, SITE_A, SITE_B } from './demo-config.ts';

type Entry = Record<string, unknown> & { encryption: { key: string } };

function sas(doc: { sas?: unknown[] }): Entry[] {
  return (doc.sas ?? []) as Entry[];
}

/** The ESP part of an SA document entry (what the esp package takes). */
function espConfig(entry: Entry): SaConfig {
  const { name: _name, binding: _binding, ...config } = entry;
  return config as unknown as SaConfig;
}

describe('the embedded default configuration', () => {
  it('is two documents in the published format: A protects site A to site B per worker, B accepts it', () => {
    const { a, b } = demoConfigs({ workers: 3, portA: 40001, portB: 40002 });
    for (const doc of [a, b]) assert.equal(checkConfigFile(doc).ok, true);
    assert.deepEqual(
      a.saGroups?.map((g) => [g.name, g.resource]),
      [[SA_GROUP, 'worker']],
    );
    assert.deepEqual(
      sas(a).map((s) => [s.spi, s.direction, (s.binding as { resource: number }).resource]),
      [
        [FIRST_SPI, 'out', 0],
        [FIRST_SPI + 1, 'out', 1],
        [FIRST_SPI + 2, 'out', 2],
      ],
    );
    assert.deepEqual(
      sas(b).map((s) => [s.spi, s.direction]),
      [
        [FIRST_SPI, 'in'],
        [FIRST_SPI + 1, 'in'],
        [FIRST_SPI + 2, 'in'],
      ],
    );
    const out = a.spd?.policies?.[0] as Record<string, unknown>;
    assert.deepEqual([out.direction, out.local, out.remote], ['out', SITE_A, SITE_B]);
    const inbound = b.spd?.policies?.[0] as Record<string, unknown>;
    assert.deepEqual([inbound.direction, inbound.local, inbound.remote], ['in', SITE_B, SITE_A]);
    for (const s of [...sas(a), ...sas(b)]) {
      assert.deepEqual(s.encap, { type: 'udp', sourcePort: 40001, destinationPort: 40002 });
    }
  });

  it('draws fresh keys for every SA and every run, the same on both ends of an SA', () => {
    const first = demoConfigs({ workers: 2, portA: 1, portB: 2 });
    const second = demoConfigs({ workers: 2, portA: 1, portB: 2 });
    const keys = (doc: { sas?: unknown[] }) => sas(doc).map((s) => s.encryption.key);
    assert.deepEqual(keys(first.a), keys(first.b));
    const all = [...keys(first.a), ...keys(second.a)];
    assert.equal(new Set(all).size, 4);
    for (const key of all) assert.match(key, /^[0-9a-f]{72}$/);
  });

  it("A's SA seals what B's matching SA opens, as ESP in UDP between the two ports", () => {
    const { a, b } = demoConfigs({ workers: 1, portA: 40001, portB: 40002 });
    const sender = createSaRuntime(espConfig(sas(a)[0]!));
    const receiver = createSaRuntime(espConfig(sas(b)[0]!), { id: 0 });
    const table = new InboundSaTable();
    table.add(receiver);
    try {
      const inner = innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.1', payloadBytes: 100, seed: 7 });
      const v = vectorOf([inner]);
      new EspOutbound({ capacity: 1 }).encapsulate(sender, v, 0, 1, 0);
      const esp = packetAt(v, 0);
      assert.equal(esp[9], 17, 'outer protocol UDP');
      assert.deepEqual([readU16(esp, 20), readU16(esp, 22)], [40001, 40002]);
      assert.equal(readU32(esp, 28), FIRST_SPI);
      const w = vectorOf([esp]);
      new EspInbound({ capacity: 1, table }).decapsulate(w, 0, 1, 0, 0);
      assert.equal(w.verdict[0], VERDICT_FORWARD);
      const opened = packetAt(w, 0);
      assert.deepEqual(opened, inner);
    } finally {
      sender.destroy();
      receiver.destroy();
    }
  });
});
