/**
 * Path MTU per SA (RFC 4301 §8): an ICMP fragmentation-needed about gateway A's ESP lowers that SA's
 * path MTU; A then answers a client's too-big DF packet with an ICMP error carrying the inner MTU that
 * fits, and encrypts a fragmentable one and sends it in fragments.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tshark, withE2e } from './harness.ts';
import { e2eSkipReason } from './topology.ts';

const skip = e2eSkipReason(['ping', 'tcpdump', 'tshark', '/usr/bin/python3']);
const budget = { timeout: 180_000 };

/** From gateway B's namespace: a router's "fragmentation needed" about one of A's ESP packets. */
function tooBigScript(transport: 'udp' | 'raw-esp', mtu: number): string {
  const quoted =
    transport === 'udp'
      ? "IPerror(src='192.168.90.1', dst='192.168.90.2', proto=17, len=1400)/UDPerror(sport=4500, dport=4500, len=1380)/Raw((0x1001).to_bytes(4, 'big') + (7).to_bytes(4, 'big'))"
      : "IPerror(src='192.168.90.1', dst='192.168.90.2', proto=50, len=1400)/Raw((0x1001).to_bytes(4, 'big') + (7).to_bytes(4, 'big'))";
  return `from scapy.all import *\nsend(IP(src='192.168.90.2', dst='192.168.90.1')/ICMP(type=3, code=4, nexthopmtu=${mtu})/${quoted}, verbose=0)`;
}

interface PathView {
  paths: { sa: string; pmtu: number; innerMtu: number; learnedAt: string | null }[];
  icmp: { tooBigReports: number; errorsSent: number };
  fragments: { sent: number };
}

describe('path MTU and fragments', { skip }, () => {
  for (const transport of ['udp', 'raw-esp'] as const) {
    test(
      `${transport === 'udp' ? 'ESP in UDP' : 'raw ESP'}: learned from ICMP, too-big DF packets answered with the inner MTU, others fragmented after encryption`,
      budget,
      async () => {
        await withE2e(async (e) => {
          const { a } = await e.gateways({ transport, workers: 1 });
          assert.equal(e.ping(2).received, 2);
          const r = e.topo.run('gwB', '/usr/bin/python3', ['-c', tooBigScript(transport, 1200)]);
          assert.equal(r.status, 0, r.stderr);
          let view = (await a.api<PathView>('GET', '/v1/interfaces')).body;
          for (let i = 0; i < 20 && view.paths[0]!.pmtu !== 1200; i++) {
            await new Promise((done) => setTimeout(done, 100));
            view = (await a.api<PathView>('GET', '/v1/interfaces')).body;
          }
          const path = view.paths.find((p) => p.sa === 'out-1001')!;
          assert.equal(path.pmtu, 1200);
          assert.notEqual(path.learnedAt, null);
          // AES-GCM-256: outer IPv4 20, UDP 8 (ESP in UDP only), SPI and sequence 8, IV 8, ICV 16, trailer 2.
          const inner = transport === 'udp' ? 1200 - 60 - 2 : 1200 - 52 - 2;
          assert.equal(path.innerMtu, inner);

          // First a fragmentable packet: the client has not been told a smaller MTU yet, so it sends whole
          // 1228-byte packets, which A encrypts and sends in fragments.
          const wire = await e.recordWire(async () => {
            const fragmentable = e.ping(2, ['-M', 'dont', '-s', '1200']);
            assert.equal(fragmentable.received, 2, fragmentable.output);
          });
          const pieces = tshark(wire, 'ip.src == 192.168.90.1 && (ip.flags.mf == 1 || ip.frag_offset > 0)', [
            'ip.len',
          ]);
          assert.ok(pieces.length >= 4, `${pieces.length} fragments of A's ESP on the wire`);
          for (const [length] of pieces) assert.ok(Number(length) <= 1200, `a ${length}-byte fragment`);
          if (transport === 'raw-esp') {
            const sent = (await a.api<PathView>('GET', '/v1/interfaces')).body.fragments.sent;
            assert.ok(sent >= 4, 'Espresso fragmented them itself');
          }

          // Then 1200 bytes of ICMP payload in a 1228-byte packet with DF, over the inner MTU.
          const df = e.ping(1, ['-M', 'do', '-s', '1200']);
          assert.equal(df.received, 0);
          assert.match(df.output, new RegExp(`mtu ?= ?${inner}`), 'the client was told the inner MTU');
          const after = (await a.api<PathView>('GET', '/v1/interfaces')).body;
          assert.ok(after.icmp.errorsSent >= 1);
        });
      },
    );
  }
});
