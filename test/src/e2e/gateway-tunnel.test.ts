/**
 * Two Espresso gateways (`espresso serve --config`, each in its network namespace with a TUN device
 * inside and ESP outside) protect the traffic between a client's and a server's subnets; the kernel's
 * ping and iperf3 are the traffic, tcpdump and tshark look at the wire between the gateways.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gatewayPair } from './gateway-configs.ts';
import { drops, sleep, tshark, withE2e } from './harness.ts';
import { e2eSkipReason } from './topology.ts';

const skip = e2eSkipReason(['ping', 'iperf3', 'tcpdump', 'tshark']);
const budget = { timeout: 180_000 };

interface InterfaceStats {
  natKeepalives: { sent: number; received: number };
  outside: { txPackets: number; rxPackets: number }[];
}

/** Every IP packet on the wire, by what it is: ESP (in UDP 4500 or raw), or anything else. */
function wireSummary(file: string) {
  const packets = tshark(file, 'ip || ipv6', [
    'ip.proto',
    'ipv6.nxt',
    'udp.port',
    'esp.spi',
    'tcp.port',
    'icmp.type',
  ]);
  let esp = 0;
  const other: string[] = [];
  const spis = new Set<string>();
  for (const [proto, nxt, udpPorts, spi, tcpPorts, icmp] of packets) {
    const protocol = proto || nxt;
    if ((protocol === '50' || (protocol === '17' && udpPorts === '4500,4500')) && spi !== '') {
      esp++;
      spis.add(spi!);
    } else if (protocol === '17' && udpPorts === '4500,4500') {
      // NAT keepalives: one byte, no SPI.
    } else if (protocol === '58' || (protocol === '0' && udpPorts === '' && tcpPorts === '')) {
      // IPv6 neighbour discovery and MLD reports (behind a hop-by-hop header) on the link itself.
    } else {
      other.push(`proto ${protocol} tcp ${tcpPorts} icmp ${icmp}`);
    }
  }
  return { esp, other, spis, plaintextTcp: tshark(file, 'tcp', ['frame.number']).length };
}

describe('two gateways, a tunnel between two subnets', { skip }, () => {
  test(
    'ESP in UDP: ping and an iperf3 TCP transfer get through, the wire carries only ESP, NAT keepalives go both ways',
    budget,
    async () => {
      await withE2e(async (e) => {
        const { a, b } = await e.gateways({ outer: 4, transport: 'udp' });
        let transfer = { bytes: 0, bitsPerSecond: 0, error: null as string | null, code: 0 };
        const wire = await e.recordWire(async () => {
          const ping = e.ping(5);
          assert.equal(ping.received, 5, ping.output);
          transfer = await e.iperf(3);
        });
        assert.equal(transfer.error, null);
        assert.ok(transfer.bytes > 1_000_000, `iperf3 moved ${transfer.bytes} bytes`);
        // The inside device queues 4096 packets for io (the kernel's default is 500), as iproute2 reports.
        const link = e.topo.run('gwA', 'ip', ['-j', 'link', 'show', 'dev', 'esp0']);
        assert.equal(link.status, 0, link.stderr);
        assert.equal((JSON.parse(link.stdout) as { txqlen: number }[])[0]!.txqlen, 4096);
        const seen = wireSummary(wire);
        assert.deepEqual(seen.other, [], 'nothing but ESP between the gateways');
        assert.equal(seen.plaintextTcp, 0);
        assert.ok(seen.esp > 1000, `${seen.esp} ESP packets`);
        assert.deepEqual([...seen.spis].sort(), ['0x00001001', '0x00002001']);
        // Keepalives every 2 s (the configuration's natKeepaliveSeconds): by now some went each way.
        await sleep(2500);
        const aIo = (await a.api<InterfaceStats>('GET', '/v1/interfaces')).body;
        const bIo = (await b.api<InterfaceStats>('GET', '/v1/interfaces')).body;
        assert.ok(aIo.natKeepalives.sent >= 1 && bIo.natKeepalives.sent >= 1);
        assert.ok(aIo.natKeepalives.received >= 1, 'A counted B keepalives');
        assert.ok(
          drops((await a.api('GET', '/v1/stats')).body).nat_keepalive! >= 1,
          'and its ESP consumed them',
        );
      });
    },
  );

  test(
    'per-resource SAs (RFC 9611, one SA per worker each way): the transfer gets through on the group SAs only',
    budget,
    async () => {
      await withE2e(async (e) => {
        const { a } = await e.gateways({ perWorker: 2, workers: 2 });
        let transfer = { bytes: 0, error: null as string | null };
        const wire = await e.recordWire(async () => {
          assert.equal(e.ping(3).received, 3);
          transfer = await e.iperf(3, 4);
        });
        assert.equal(transfer.error, null);
        assert.ok(transfer.bytes > 1_000_000);
        const seen = wireSummary(wire);
        assert.deepEqual(seen.other, []);
        const group = new Set(['0x00001100', '0x00001101', '0x00002100', '0x00002101']);
        for (const spi of seen.spis) assert.ok(group.has(spi), `${spi} is one of the group's SAs`);
        const sas = (
          await a.api<{ sas: { name: string; packets: number; worker: number | null }[] }>('GET', '/v1/stats')
        ).body.sas;
        const used = sas.filter((s) => s.name.startsWith('out-') && s.packets > 0);
        assert.ok(used.length >= 1);
        for (const s of used)
          assert.equal(s.worker, Number(s.name.slice(-1)), `${s.name} ran on the worker it serves`);
      });
    },
  );

  test('ESP in UDP over IPv6 between the gateways', budget, async () => {
    await withE2e(async (e) => {
      await e.gateways({ outer: 6, transport: 'udp' });
      let transfer = { bytes: 0, error: null as string | null };
      const wire = await e.recordWire(async () => {
        assert.equal(e.ping(3).received, 3);
        transfer = await e.iperf(2);
      });
      assert.equal(transfer.error, null);
      assert.ok(transfer.bytes > 500_000);
      const seen = wireSummary(wire);
      assert.deepEqual(seen.other, []);
      assert.ok(tshark(wire, 'ipv6 && udp.port == 4500 && esp', ['frame.number']).length > 100);
    });
  });

  test('raw ESP (IP protocol 50) between the gateways', budget, async () => {
    await withE2e(async (e) => {
      await e.gateways({ outer: 4, transport: 'raw-esp' });
      let transfer = { bytes: 0, error: null as string | null };
      const wire = await e.recordWire(async () => {
        assert.equal(e.ping(3).received, 3);
        transfer = await e.iperf(2);
      });
      assert.equal(transfer.error, null);
      assert.ok(transfer.bytes > 500_000);
      const seen = wireSummary(wire);
      assert.deepEqual(seen.other, []);
      assert.ok(tshark(wire, 'ip.proto == 50', ['frame.number']).length > 100);
      assert.equal(tshark(wire, 'udp', ['frame.number']).length, 0);
    });
  });

  test(
    'a gateway started on its interfaces alone takes SAs and policies through the API, and routes follow',
    budget,
    async () => {
      await withE2e(async (e) => {
        const { a, b } = await e.gateways({}, 'interfaces');
        assert.equal(e.ping(1).received, 0, 'nothing protects the traffic yet');
        const before = (await a.api<{ tun: { routes: string[] } }>('GET', '/v1/interfaces')).body;
        assert.deepEqual(before.tun.routes, []);
        const { a: configA, b: configB } = gatewayPair({});
        const { interfaces: _a, ...documentA } = configA as { interfaces: object };
        const { interfaces: _b, ...documentB } = configB as { interfaces: object };
        assert.equal((await a.api('PUT', '/v1/config', documentA)).status, 200);
        assert.equal((await b.api('PUT', '/v1/config', documentB)).status, 200);
        await sleep(600);
        const after = (await a.api<{ tun: { routes: string[]; mtu: number } }>('GET', '/v1/interfaces')).body;
        assert.deepEqual(after.tun.routes, ['10.2.0.0/24']);
        assert.equal(after.tun.mtu, 1438, 'the MTU the SA leaves of 1500');
        assert.equal(e.ping(3).received, 3);
      });
    },
  );

  test('killing a worker thread of gateway A during the transfer does not end it', budget, async () => {
    await withE2e(async (e) => {
      const { a } = await e.gateways({ workers: 2 });
      assert.equal(e.ping(2).received, 2);
      const transfer = await e.iperf(6, 2, async () => {
        await sleep(2000);
        const r = await a.api('POST', '/v1/test/workers/0/fault', { fault: 'terminate' });
        assert.equal(r.status, 204);
      });
      assert.equal(transfer.error, null, 'the transfer finished');
      assert.ok(transfer.bytes > 1_000_000);
      const workers = (await a.api<{ workers: { restarts: number }[] }>('GET', '/v1/stats')).body.workers;
      assert.ok(workers[0]!.restarts >= 1, 'worker 0 was replaced');
      assert.equal(e.ping(3).received, 3, 'and the tunnel still works');
    });
  });
});

describe('IP-TFS between the gateways', { skip }, () => {
  test(
    'ping and an iperf3 transfer through IP-TFS SAs (RFC 9347); the wire carries only ESP',
    budget,
    async () => {
      await withE2e(async (e) => {
        const { a } = await e.gateways({ mode: 'iptfs' });
        let transfer = { bytes: 0, error: null as string | null };
        const wire = await e.recordWire(async () => {
          assert.equal(e.ping(3).received, 3);
          transfer = await e.iperf(2);
        });
        assert.equal(transfer.error, null);
        assert.ok(transfer.bytes > 500_000);
        const seen = wireSummary(wire);
        assert.deepEqual(
          seen.other,
          [],
          'ESP only, none of it fragmented: IP-TFS fills outer packets to the MTU',
        );
        assert.deepEqual([...seen.spis].sort(), ['0x00001001', '0x00002001']);
        const sa = (await a.api<{ config: { mode: string } }>('GET', '/v1/sas/out-1001')).body;
        assert.equal(sa.config.mode, 'iptfs');
        const full = tshark(wire, 'ip.src == 192.168.90.1 && ip.len == 1500', ['frame.number']).length;
        assert.ok(full > 100, `${full} outer packets of exactly the MTU`);
      });
    },
  );
});
