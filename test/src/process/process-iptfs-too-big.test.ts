import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { loadProcessConfig, processCapture } from '@espresso/control-plane/process';
import { createSaRuntime, iptfsPayloadBytes, type SaConfig } from '@espresso/esp';
import { ADDRESSES, algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { IpProtocol } from '@espresso/wire';
import { configDocument, espresso, hexOf, readStats, Workdir, writeCapture } from './process-harness.ts';

/**
 * Don't-fragment IP-TFS (RFC 9347 §2.2.6) through `espresso process`: an inner packet larger than one
 * outer payload's data is dropped as too_big and answered with an ICMP error toward its source, written
 * to the output right after where the packet was: fragmentation needed (IPv4, RFC 1191) or packet too
 * big (IPv6, RFC 8201), advertising the inner MTU the SA carries (the payload's data octets). scapy reads
 * the errors: type and code, the MTU field, a valid checksum, addresses, and the quoted offending packet.
 * An IPv4 packet without DF that does not fit is fragmented instead, and answered with nothing.
 */

type Sa = SaConfig & { name: string };

const PACKET_SIZE = 700;
const pair = saPair(algorithmCases(3)[2]!, {
  spi: 0x7401,
  mode: 'iptfs',
  extra: { iptfs: { packetSize: PACKET_SIZE, dontFragment: true } },
});
const out: Sa = { ...pair.out, name: 'tfs' };

function policies() {
  return ([4, 6] as const).map((version) => {
    const a = ADDRESSES[version];
    return {
      direction: 'out',
      local: a.innerA,
      remote: a.innerB,
      action: 'protect',
      template: { mode: 'iptfs', sa: { name: 'tfs' } },
    };
  });
}

/** The largest inner packet one outer payload carries: the payload less the 4-octet basic header. */
function innerMtu(): number {
  const { name: _name, ...config } = out;
  const sa = createSaRuntime(config);
  try {
    return iptfsPayloadBytes(sa, PACKET_SIZE) - 4;
  } finally {
    sa.destroy();
  }
}

const v4 = ADDRESSES[4];
const v6 = ADDRESSES[6];
const small = (n: number) =>
  innerPacket({ version: 4, src: v4.innerA, dst: v4.innerB, payloadBytes: 40, seed: n, dontFragment: true });
const big4 = innerPacket({
  version: 4,
  src: v4.innerA,
  dst: v4.innerB,
  payloadBytes: 1000,
  seed: 1,
  dontFragment: true,
});
const big6 = innerPacket({ version: 6, src: v6.innerA, dst: v6.innerB, payloadBytes: 1000, seed: 2 });
const big4NoDf = innerPacket({ version: 4, src: v4.innerA, dst: v4.innerB, payloadBytes: 1000, seed: 3 });

const SCAPY_READ = `
import json, socket, sys
from scapy.all import rdpcap, IP, IPv6, ICMP, ICMPv6PacketTooBig, raw
from scapy.utils import checksum
def v6_sum_ok(ip, body):
    pseudo = socket.inet_pton(socket.AF_INET6, ip.src) + socket.inet_pton(socket.AF_INET6, ip.dst)
    pseudo += len(body).to_bytes(4, 'big') + bytes([0, 0, 0, 58])
    return checksum(pseudo + body) == 0
out = []
for p in rdpcap(sys.argv[1]):
    data = raw(p)
    ip = IP(data) if data[0] >> 4 == 4 else IPv6(data)
    if ICMP in ip:
        icmp = ip[ICMP]
        out.append({'family': 4, 'type': icmp.type, 'code': icmp.code, 'mtu': icmp.nexthopmtu,
                    'sum_ok': checksum(raw(icmp)) == 0, 'src': ip.src, 'dst': ip.dst,
                    'quote': raw(icmp.payload).hex()})
    elif ICMPv6PacketTooBig in ip:
        icmp = ip[ICMPv6PacketTooBig]
        out.append({'family': 6, 'type': icmp.type, 'code': icmp.code, 'mtu': icmp.mtu,
                    'sum_ok': v6_sum_ok(ip, raw(icmp)), 'src': ip.src, 'dst': ip.dst,
                    'quote': raw(icmp.payload).hex()})
    else:
        out.append({'family': 0, 'proto': ip.proto if data[0] >> 4 == 4 else ip.nh})
print(json.dumps(out))
`;

interface Seen {
  family: number;
  type?: number;
  code?: number;
  mtu?: number;
  sum_ok?: boolean;
  src?: string;
  dst?: string;
  quote?: string;
  proto?: number;
}

/** What scapy makes of the output: the two ICMP errors checked, the rest ESP; returns the packet count. */
function checkOutput(output: string, inOrder: boolean) {
  const r = spawnSync('/usr/bin/python3', ['-c', SCAPY_READ, output], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const seen = JSON.parse(r.stdout) as Seen[];
  const errors = seen.filter((s) => s.family !== 0);
  assert.equal(errors.length, 2, 'one error per too-big packet, none for the one without DF');
  const mtu = innerMtu();
  const e4 = errors.find((e) => e.family === 4)!;
  const e6 = errors.find((e) => e.family === 6)!;
  assert.deepEqual(
    { type: e4.type, code: e4.code, mtu: e4.mtu, sumOk: e4.sum_ok, dst: e4.dst },
    { type: 3, code: 4, mtu, sumOk: true, dst: v4.innerA },
  );
  assert.equal(e4.src, pair.out.local, "from the gateway's address");
  // RFC 1191 quotes the IP header and at least 8 octets; the builder quotes what fits in 576.
  assert.ok(e4.quote!.length >= 2 * 28);
  assert.ok(hexOf(big4).startsWith(e4.quote!), 'the quote is the offending packet');
  assert.deepEqual(
    { type: e6.type, code: e6.code, mtu: e6.mtu, sumOk: e6.sum_ok, dst: e6.dst },
    { type: 2, code: 0, mtu, sumOk: true, dst: v6.innerA },
  );
  assert.ok(e6.quote!.length >= 2 * 48);
  assert.ok(hexOf(big6).startsWith(e6.quote!), 'the quote is the offending packet');
  const kinds = seen.map((s) => (s.family === 0 ? `ip${s.proto}` : `icmp${s.family}`));
  // In one thread they keep the input's order; the pool steers flows to two workers.
  if (inOrder) assert.ok(kinds.indexOf('icmp6') > kinds.indexOf('icmp4'), kinds.join(' '));
  for (const kind of kinds) assert.ok(['icmp4', 'icmp6', `ip${IpProtocol.esp}`].includes(kind), kind);
  return seen.length;
}

const work = new Workdir();
after(() => work.remove());

describe("IP-TFS don't-fragment: too-big inner packets answered with ICMP", () => {
  // small, big IPv4 with DF, small, big IPv6, big IPv4 without DF (fragmented), small.
  const inner = [small(0), big4, small(1), big6, big4NoDf, small(2)];
  let input = '';
  let config = '';
  before(async () => {
    input = work.path('in.pcap');
    await writeCapture(input, inner, { spacingNs: 1_000_000 });
    config = work.writeJson('a.json', configDocument([out], policies()));
  });

  it('in-process: each too-big packet is dropped and answered after its place; scapy reads the errors', async () => {
    const output = work.path('out.pcap');
    const stats = await processCapture({
      config: await loadProcessConfig(config),
      from: 'inside',
      input,
      output,
      batchSize: 4,
    });
    assert.deepEqual(stats.drops.byReason, { too_big: 2 });
    assert.equal(stats.output.packets, checkOutput(output, true));
    assert.equal(stats.protected, stats.output.packets - 2, 'the errors are not ESP');
  });

  it('on the pool (--workers 2): the owner sends the errors to the inside, written the same way', () => {
    const output = work.path('out-pool.pcap');
    const statsPath = work.path('out-pool.json');
    const r = espresso([
      'process',
      '--config',
      config,
      '--in',
      input,
      '--out',
      output,
      '--from',
      'inside',
      '--workers',
      '2',
      '--stats',
      statsPath,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const stats = readStats(statsPath);
    assert.deepEqual(stats.drops.byReason, { too_big: 2 });
    assert.equal(stats.output.packets, checkOutput(output, false));
    assert.equal(stats.protected, stats.output.packets - 2, 'the errors are not ESP');
  });
});
