/**
 * What arrives from the outside that is not ESP a gateway can use (random UDP payloads to 4500,
 * truncated ESP, replays of ESP captured on the wire) is dropped and counted by reason while a transfer
 * goes on; and packet captures through the API see the traffic and the drops with their reasons.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { drops, sleep, tshark, withE2e } from './harness.ts';
import { e2eSkipReason } from './topology.ts';

const skip = e2eSkipReason(['ping', 'iperf3', 'tcpdump', 'tshark', '/usr/bin/python3']);
const budget = { timeout: 180_000 };

/** scapy, from gateway B's namespace, sends at gateway A's ESP-in-UDP endpoint. */
const injector = `
import random, sys
from scapy.all import IP, UDP, Raw, rdpcap, send
kind, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
to_a = IP(src='192.168.90.2', dst='192.168.90.1')/UDP(sport=4500, dport=4500)
packets = []
if kind == 'random':
    for _ in range(count):
        spi = rng.randrange(0x10000, 0xffffffff)
        body = spi.to_bytes(4, 'big') + bytes(rng.randrange(256) for _ in range(rng.randrange(12, 200)))
        packets.append(to_a/Raw(body))
elif kind == 'truncated':
    for _ in range(count):
        packets.append(to_a/Raw((0x2001).to_bytes(4, 'big') + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 4)))))
else:
    wire = [p for p in rdpcap(sys.argv[4]) if IP in p and p[IP].src == '192.168.90.2' and UDP in p and len(p[UDP].payload) > 8]
    packets = [p[IP] for p in wire[:count]]
    # Captured on a veth, their UDP checksums may be the offload's partial sums: fix them (they are
    # not part of what ESP protects, so the packets stay replays).
    for p in packets:
        del p[IP].chksum
        del p[UDP].chksum
send(packets, verbose=0)
print(len(packets))
`;

describe('bad input from the outside', { skip }, () => {
  test(
    'random UDP payloads, truncated ESP and replayed ESP are dropped and counted by reason while the transfer goes on',
    budget,
    async () => {
      await withE2e(async (e) => {
        const { a } = await e.gateways({ workers: 2 });
        assert.equal(e.ping(2).received, 2);
        const before = drops((await a.api('GET', '/v1/stats')).body);
        const sent: Record<string, number> = {};
        const transfer = await e.iperf(6, 1, async () => {
          await sleep(1000);
          const wire = await e.recordWire(() => sleep(1000), 256);
          for (const [kind, count] of [
            ['random', 300],
            ['truncated', 100],
            ['replay', 200],
          ] as const) {
            const r = e.topo.run('gwB', '/usr/bin/python3', ['-c', injector, kind, String(count), '7', wire]);
            assert.equal(r.status, 0, r.stderr);
            sent[kind] = Number(r.stdout.trim());
          }
        });
        assert.equal(transfer.error, null, 'the transfer finished');
        assert.ok(transfer.bytes > 1_000_000);
        assert.ok(sent.replay! >= 50, `${sent.replay} packets to replay were captured`);
        const after = drops((await a.api('GET', '/v1/stats')).body);
        const grew = (name: string) => after[name]! - before[name]!;
        assert.ok(
          grew('no_state') >= sent.random!,
          `no_state +${grew('no_state')} for ${sent.random} random SPIs`,
        );
        assert.ok(grew('runt') >= sent.truncated!, `runt +${grew('runt')} for ${sent.truncated} truncated`);
        assert.ok(
          grew('replay') + grew('outside_window') >= sent.replay!,
          `replay +${grew('replay')}, outside_window +${grew('outside_window')} for ${sent.replay} replays`,
        );
        assert.equal(grew('icv_failure'), 0, 'nothing reached decryption');
      });
    },
  );
});

interface CaptureInfo {
  id: string;
  state: string;
  packets: number;
  stopReason: string | null;
  path: string;
}

describe('packet capture through the API', { skip }, () => {
  test(
    'rx, tx and drop with a filter and a limit, as a pcapng file tshark reads, drops with their reasons',
    budget,
    async () => {
      await withE2e(async (e) => {
        const { a } = await e.gateways({ workers: 2 });
        assert.equal(e.ping(1).received, 1);

        // tx with an SPI filter: exactly the five echo requests, as ESP of that SA.
        const tx = await a.api<CaptureInfo>('POST', '/v1/captures', {
          points: ['tx'],
          filter: { spi: '0x1001' },
          limit: 1000,
        });
        assert.equal(tx.status, 201);
        const busy = await a.api('POST', '/v1/captures', { points: ['rx'] });
        assert.equal(busy.status, 409, 'one capture at a time');
        assert.equal(e.ping(5).received, 5);
        assert.equal((await a.api('GET', `/v1/captures/${tx.body.id}/file`)).status, 409, 'still running');
        const stopped = await a.api<CaptureInfo>('POST', `/v1/captures/${tx.body.id}/stop`);
        assert.equal(stopped.body.state, 'done');
        const file = `${e.dir}/tx.pcapng`;
        const { writeFileSync } = await import('node:fs');
        writeFileSync(file, await a.download(`/v1/captures/${tx.body.id}/file`));
        const frames = tshark(file, '', ['frame.interface_name', 'esp.spi', 'ip.dst']);
        assert.deepEqual(frames, Array(5).fill(['outside-tx', '0x00001001', '192.168.90.2']));

        // rx and drop, limited: plaintext in from the inside, ESP in from the outside, truncated ESP dropped.
        const rx = await a.api<CaptureInfo>('POST', '/v1/captures', { points: ['rx', 'drop'], limit: 40 });
        assert.equal(rx.status, 201);
        assert.equal(e.ping(3).received, 3);
        const r = e.topo.run('gwB', '/usr/bin/python3', [
          '-c',
          "from scapy.all import *\nsend(IP(src='192.168.90.2', dst='192.168.90.1')/UDP(sport=4500, dport=4500)/Raw(b'\\x00\\x00\\x20\\x01\\x00'), count=4, verbose=0)",
        ]);
        assert.equal(r.status, 0, r.stderr);
        await sleep(500);
        const done = await a.api<CaptureInfo>('POST', `/v1/captures/${rx.body.id}/stop`);
        const rxFile = `${e.dir}/rx.pcapng`;
        writeFileSync(rxFile, await a.download(`/v1/captures/${rx.body.id}/file`));
        const rows = tshark(rxFile, '', ['frame.interface_name', 'frame.comment', 'icmp.type', 'esp.spi']);
        const count = (name: string, pred: (row: string[]) => boolean = () => true) =>
          rows.filter((row) => row[0] === name && pred(row)).length;
        assert.equal(
          count('inside-rx', (row) => row[2] === '8'),
          3,
          'the echo requests, in clear',
        );
        assert.equal(
          count('outside-rx', (row) => row[3] === '0x00002001'),
          7,
          'the replies and the truncated ESP, received',
        );
        assert.equal(
          count('outside-drop', (row) => row[1] === 'drop: runt'),
          4,
          'the truncated ESP, with its reason',
        );
        assert.equal(done.body.packets, rows.length);

        const limited = await a.api<CaptureInfo>('POST', '/v1/captures', { points: ['rx'], limit: 2 });
        assert.equal(e.ping(3).received, 3);
        await sleep(300);
        const info = (await a.api<CaptureInfo>('GET', `/v1/captures/${limited.body.id}`)).body;
        assert.equal(info.packets, 2);
        assert.equal(info.stopReason, 'limit');
        assert.equal((await a.api('DELETE', `/v1/captures/${limited.body.id}`)).status, 204);
        assert.equal((await a.api('GET', `/v1/captures/${limited.body.id}`)).status, 404);
        const list = (await a.api<{ captures: CaptureInfo[] }>('GET', '/v1/captures')).body.captures;
        assert.deepEqual(list.map((c) => c.id).sort(), [tx.body.id, rx.body.id].sort());
      });
    },
  );
});
