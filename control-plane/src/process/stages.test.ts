import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DropReason } from '@espresso/counters';
import { VERDICT_FORWARD } from '@espresso/esp';
import { algorithmCases, hex, innerPacket, saPair } from '@espresso/esp/testing';
import { readU32 } from '@espresso/wire';
import { parseConfigText } from '../config/config-file.ts';
import { createStage } from './pipeline.ts';
import { checkProcessConfig } from './process-config.ts';
import { ProcessCounter, processDropCount } from './process-counters.ts';
import { ProcessDatapath } from './process-datapath.ts';
import { SlotBatch, slotLayout } from './slot-batch.ts';

const alg = algorithmCases(3)[0]!;

async function datapath(doc: unknown): Promise<ProcessDatapath> {
  const text = JSON.stringify(doc);
  return new ProcessDatapath(await checkProcessConfig(parseConfigText(text, 't.json'), 't.json'));
}

interface Out {
  readonly verdict: number;
  readonly bytes: Uint8Array;
}

function run(
  dp: ProcessDatapath,
  from: 'inside' | 'outside',
  packets: readonly Uint8Array[],
  capacity = 64,
): Out[] {
  const stage = createStage(dp, from, capacity);
  const batch = new SlotBatch(capacity);
  const out: Out[] = [];
  for (let start = 0; start < packets.length; start += capacity) {
    batch.clear();
    for (const p of packets.slice(start, start + capacity)) batch.add(p, 0, p.length);
    stage.process(batch.vector, 0);
    const v = batch.vector;
    for (let i = 0; i < v.count; i++) {
      out.push({ verdict: v.verdict[i]!, bytes: v.buffer.slice(v.offset[i]!, v.offset[i]! + v.length[i]!) });
    }
  }
  return out;
}

const pair = saPair(alg, { spi: 0x1001 });
const outSa = { ...pair.out, name: 'a-to-b' };
const inSa = { ...pair.in, name: 'a-to-b' };
const to = (dst: string, seed = 0, dscp = 0) =>
  innerPacket({ version: 4, src: '10.1.0.1', dst, payloadBytes: 40, seed, dscp });
const protect = (remote: string, template: Record<string, unknown>) => ({
  direction: 'out',
  local: '10.1.0.0/16',
  remote,
  action: 'protect',
  template: { mode: 'tunnel', ...template },
});

describe('outbound stage', () => {
  it('protects, bypasses, discards and drops by default as the policies say, counting each', async () => {
    const dp = await datapath({
      sas: [outSa],
      spd: {
        defaults: { out: 'drop' },
        policies: [
          protect('10.2.0.0/16', { sa: { name: 'a-to-b' } }),
          { direction: 'out', local: '10.1.0.0/16', remote: '10.3.0.0/16', action: 'bypass' },
          { direction: 'out', local: '10.1.0.0/16', remote: '10.4.0.0/16', action: 'discard' },
        ],
      },
    });
    const packets = [to('10.2.0.2'), to('10.3.0.3'), to('10.4.0.4'), to('10.5.0.5'), to('10.2.0.9')];
    const out = run(dp, 'inside', packets);
    assert.deepEqual(
      out.map((o) => o.verdict),
      [VERDICT_FORWARD, VERDICT_FORWARD, DropReason.policyBlock, DropReason.noPolicy, VERDICT_FORWARD],
    );
    assert.equal(out[0]!.bytes[9], 50, 'ESP in the outer header');
    assert.equal(readU32(out[0]!.bytes, 20), 0x1001);
    assert.equal(readU32(out[4]!.bytes, 24), 2, 'second packet of the SA has sequence 2');
    assert.equal(hex(out[1]!.bytes), hex(packets[1]!), 'bypass leaves the packet as it was');
    const c = dp.counters;
    assert.equal(c[ProcessCounter.protected], 2);
    assert.equal(c[ProcessCounter.bypassed], 1);
    assert.equal(processDropCount(c, DropReason.policyBlock), 1);
    assert.equal(processDropCount(c, DropReason.noPolicy), 1);
    assert.equal(c[ProcessCounter.packetsOut], 3);
    dp.destroy();
  });

  it('groups a batch by SA, keeping each SA in sequence and the batch in input order', async () => {
    const other = { ...saPair(alg, { spi: 0x1002 }).out, name: 'a-to-c' };
    const dsts = ['10.2.0.1', '10.3.0.1', '10.3.0.2', '10.2.0.2', '10.3.0.3', '10.2.0.3', '10.2.0.4'];
    for (const capacity of [1, 3, 64]) {
      const dp = await datapath({
        sas: [outSa, other],
        spd: {
          policies: [
            protect('10.2.0.0/16', { sa: { name: 'a-to-b' } }),
            protect('10.3.0.0/16', { sa: { spi: 0x1002 } }),
          ],
        },
      });
      const out = run(
        dp,
        'inside',
        dsts.map((d, i) => to(d, i)),
        capacity,
      );
      const seen = out.map((o) => [readU32(o.bytes, 20), readU32(o.bytes, 24)] as const);
      assert.deepEqual(
        seen.map(([spi]) => spi),
        dsts.map((d) => (d.startsWith('10.2') ? 0x1001 : 0x1002)),
        `capacity ${capacity}`,
      );
      assert.deepEqual(
        seen.filter(([spi]) => spi === 0x1001).map(([, seq]) => seq),
        [1, 2, 3, 4],
      );
      assert.deepEqual(
        seen.filter(([spi]) => spi === 0x1002).map(([, seq]) => seq),
        [1, 2, 3],
      );
      dp.destroy();
    }
  });

  it('a DSCP-bound SA group sends each class through its SA, others through the fallback', async () => {
    const ef = {
      ...saPair(alg, { spi: 0x3001 }).out,
      name: 'ef',
      binding: { group: 'classes', resource: 46 },
    };
    const rest = {
      ...saPair(alg, { spi: 0x3002 }).out,
      name: 'rest',
      binding: { group: 'classes', fallback: true },
    };
    const dp = await datapath({
      saGroups: [{ name: 'classes', resource: 'dscp' }],
      sas: [ef, rest],
      spd: { policies: [protect('10.2.0.0/16', { saGroup: 'classes' })] },
    });
    const out = run(dp, 'inside', [to('10.2.0.2', 0, 46), to('10.2.0.2', 1, 0), to('10.2.0.2', 2, 10)]);
    assert.deepEqual(
      out.map((o) => readU32(o.bytes, 20)),
      [0x3001, 0x3002, 0x3002],
    );
    dp.destroy();
  });

  it('a packet that does not parse, or is too big for its slot, is dropped with its reason; the rest go on', async () => {
    const dp = await datapath({
      sas: [outSa],
      spd: { policies: [protect('10.2.0.0/16', { sa: { name: 'a-to-b' } })] },
    });
    const stage = createStage(dp, 'inside', 8);
    const batch = new SlotBatch(8, slotLayout(128, 200, 64));
    const good = to('10.2.0.2');
    batch.add(Uint8Array.of(0x45, 0, 0), 0, 3);
    batch.add(new Uint8Array(300), 0, 300);
    batch.add(good, 0, good.length);
    stage.process(batch.vector, 0);
    assert.deepEqual(Array.from(batch.vector.verdict.subarray(0, 3)), [
      DropReason.truncated,
      DropReason.tooBig,
      VERDICT_FORWARD,
    ]);
    dp.destroy();
  });
});

describe('inbound stage', () => {
  async function encrypt(packets: readonly Uint8Array[]) {
    const a = await datapath({
      sas: [outSa],
      spd: { policies: [protect('10.2.0.0/16', { sa: { name: 'a-to-b' } })] },
    });
    const out = run(a, 'inside', packets).map((o) => o.bytes);
    a.destroy();
    return out;
  }
  const inPolicy = (template: Record<string, unknown>, action = 'protect') => ({
    direction: 'in',
    local: '10.1.0.0/16',
    remote: '10.2.0.0/16',
    action,
    ...(action === 'protect' ? { template: { mode: 'tunnel', ...template } } : {}),
  });

  it('decrypts, and checks each inner packet against the inbound policy of its SA', async () => {
    // Inner packets from 10.1 to 10.2 as A sends them; B's inbound policies see 10.1 as remote.
    const inner = [to('10.2.0.2', 0), to('10.2.0.3', 1)];
    const esp = await encrypt(inner);
    const mirrored = (p: Record<string, unknown>) => ({ ...p, local: '10.2.0.0/16', remote: '10.1.0.0/16' });
    const other = { ...saPair(alg, { spi: 0x1002 }).in, name: 'other' };
    for (const [name, policies, want] of [
      ['no policy, default allow', [], VERDICT_FORWARD],
      ['protect naming the SA', [mirrored(inPolicy({ sa: { name: 'a-to-b' } }))], VERDICT_FORWARD],
      [
        'protect naming another SA',
        [mirrored(inPolicy({ sa: { name: 'other' } }))],
        DropReason.policyMismatch,
      ],
      ['bypass, tunnel mode', [mirrored(inPolicy({}, 'bypass'))], DropReason.policyMismatch],
      ['discard', [mirrored(inPolicy({}, 'discard'))], DropReason.policyBlock],
    ] as const) {
      const dp = await datapath({ sas: [inSa, other], spd: { policies } });
      const out = run(dp, 'outside', esp);
      assert.deepEqual(
        out.map((o) => o.verdict),
        [want, want],
        name,
      );
      if (want === VERDICT_FORWARD)
        assert.deepEqual(
          out.map((o) => hex(o.bytes)),
          inner.map(hex),
          name,
        );
      else assert.equal(dp.sas[0]!.counters[2 + want], 2, `${name}: counted on the SA`);
      dp.destroy();
    }
  });

  it('sends clear packets through the inbound policies, and counts IKE and NAT keepalives on 4500', async () => {
    const udp = (payload: number[], dport: number) => {
      const p = innerPacket({
        version: 4,
        src: '198.51.100.9',
        dst: '192.0.2.9',
        payloadBytes: payload.length,
      });
      p.set(payload, 28);
      p[22] = dport >> 8;
      p[23] = dport & 0xff;
      p[26] = 0;
      p[27] = 0; // no UDP checksum (IPv4 allows it)
      return p;
    };
    const dp = await datapath({
      sas: [inSa],
      spd: {
        policies: [
          {
            direction: 'in',
            local: '192.0.2.9',
            remote: '198.51.100.9',
            protocol: 'udp',
            localPorts: 500,
            action: 'bypass',
          },
          {
            direction: 'in',
            local: '192.0.2.9',
            remote: '198.51.100.9',
            protocol: 'udp',
            localPorts: 53,
            action: 'discard',
          },
        ],
      },
    });
    const out = run(dp, 'outside', [
      udp([0, 0, 0, 0, 1, 2, 3, 4], 4500),
      udp([0xff], 4500),
      udp([1, 2, 3], 500),
      udp([1, 2, 3], 53),
      udp([0, 0, 0, 5, 0, 0, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9], 4500),
    ]);
    assert.deepEqual(
      out.map((o) => o.verdict),
      [
        DropReason.ikeMarker,
        DropReason.natKeepalive,
        VERDICT_FORWARD,
        DropReason.policyBlock,
        DropReason.noState,
      ],
    );
    assert.equal(dp.counters[ProcessCounter.bypassed], 1);
    dp.destroy();
  });
});
