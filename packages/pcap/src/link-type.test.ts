import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LinkType, locateNetworkLayer, type NetworkLayer } from './link-type.ts';
import { ethernetFrame, ipv4Packet, ipv6Packet, sll2Frame, sllFrame } from './test-support/frames.ts';

function locate(linkType: number, frame: Uint8Array): NetworkLayer {
  const out: NetworkLayer = { offset: 99, length: 99, ipVersion: 0 };
  const found = locateNetworkLayer(linkType, frame, 0, frame.length, out);
  assert.equal(found, out.offset >= 0);
  return out;
}

const v4 = ipv4Packet(8);
const v6 = ipv6Packet(12);

test('Ethernet: IP after 14 bytes, after each stacked 802.1Q / 802.1ad tag, padding cut off', () => {
  assert.deepEqual(locate(LinkType.ethernet, ethernetFrame(v4)), { offset: 14, length: 28, ipVersion: 4 });
  assert.deepEqual(locate(LinkType.ethernet, ethernetFrame(v4, [0x8100])), {
    offset: 18,
    length: 28,
    ipVersion: 4,
  });
  assert.deepEqual(locate(LinkType.ethernet, ethernetFrame(v6, [0x88a8, 0x8100])), {
    offset: 22,
    length: 52,
    ipVersion: 6,
  });
  // The frame was padded to 60 bytes; the IP packet is still 28.
  assert.equal(ethernetFrame(v4).length, 60);
});

test('Ethernet: a frame cut short inside the IP packet keeps what was captured', () => {
  const frame = ethernetFrame(ipv4Packet(200)).subarray(0, 14 + 100);
  assert.deepEqual(locate(LinkType.ethernet, frame), { offset: 14, length: 100, ipVersion: 4 });
});

test('Ethernet: non-IP EtherTypes, 802.3 lengths and tags cut short carry no IP packet', () => {
  const arp = ethernetFrame(v4);
  arp.set([0x08, 0x06], 12);
  assert.deepEqual(locate(LinkType.ethernet, arp), { offset: -1, length: 0, ipVersion: 0 });
  const llc = ethernetFrame(v4);
  llc.set([0x00, 0x2e], 12);
  assert.equal(locate(LinkType.ethernet, llc).offset, -1);
  assert.equal(locate(LinkType.ethernet, ethernetFrame(v4, [0x8100]).subarray(0, 16)).offset, -1);
  assert.equal(locate(LinkType.ethernet, new Uint8Array(13)).offset, -1);
});

test('an IP length field larger than the capture, or implausibly small, does not shorten it', () => {
  const lying = ethernetFrame(ipv4Packet(8));
  lying[14 + 2] = 0;
  lying[14 + 3] = 4;
  assert.equal(locate(LinkType.ethernet, lying).length, 60 - 14);
  const jumbo = ethernetFrame(ipv6Packet(30));
  jumbo[14 + 4] = 0;
  jumbo[14 + 5] = 0;
  assert.equal(locate(LinkType.ethernet, jumbo).length, 70);
});

test('Linux cooked captures: SLL after 16 bytes, SLL2 after 20', () => {
  assert.deepEqual(locate(LinkType.linuxSll, sllFrame(v4)), { offset: 16, length: 28, ipVersion: 4 });
  assert.deepEqual(locate(LinkType.linuxSll2, sll2Frame(v6)), { offset: 20, length: 52, ipVersion: 6 });
  assert.equal(locate(LinkType.linuxSll, sllFrame(v4).subarray(0, 15)).offset, -1);
});

test('raw IP link types start at 0 and keep every byte', () => {
  const padded = new Uint8Array(40);
  padded.set(v4);
  assert.deepEqual(locate(LinkType.raw, padded), { offset: 0, length: 40, ipVersion: 4 });
  assert.deepEqual(locate(LinkType.raw, v6), { offset: 0, length: 52, ipVersion: 6 });
  assert.deepEqual(locate(LinkType.raw, Uint8Array.of(0x50)), { offset: 0, length: 1, ipVersion: 0 });
  assert.deepEqual(locate(LinkType.ipv4, v4), { offset: 0, length: 28, ipVersion: 4 });
  assert.deepEqual(locate(LinkType.ipv6, v6), { offset: 0, length: 52, ipVersion: 6 });
});

test('other link types carry no IP packet this package knows how to find', () => {
  assert.equal(locate(105, v4).offset, -1);
});

test('works at an offset inside a larger buffer', () => {
  const buffer = new Uint8Array(100);
  const frame = ethernetFrame(v4, [0x8100]);
  buffer.set(frame, 30);
  const out: NetworkLayer = { offset: 0, length: 0, ipVersion: 0 };
  assert.ok(locateNetworkLayer(LinkType.ethernet, buffer, 30, frame.length, out));
  assert.deepEqual(out, { offset: 18, length: 28, ipVersion: 4 });
});
