import { DropReason } from '@espresso/counters';
import {
  createPacketVector,
  EspInbound,
  EspOutbound,
  type PacketVector,
  setPacket,
  VERDICT_FORWARD,
} from '@espresso/esp';
import {
  DESCRIPTOR_WORDS,
  descriptorFlags,
  descriptorLength,
  descriptorOffset,
  descriptorSlot,
  flagsFor,
  type PacketPool,
  portOf,
  type SpscRing,
  writeDescriptor,
} from '@espresso/ring';
import { firstMatch } from '@espresso/spd';
import { createFlowKey, extractFlowKey, readU16, WIRE_OK } from '@espresso/wire';
import type { FragmentPolicy } from '../capabilities.ts';
import type { DeviceSad } from './device-sad.ts';
import { createL2Header, MAX_L2_BYTES, parseL2, restoreL2, saveL2 } from './ethernet.ts';
import { DeviceStat, Stage } from './layout.ts';
import { carriesEsp, isFragment, segmentUdp } from './segmentation.ts';

const BATCH = 64;
const MAX_SEGMENTS = 64;

export interface DeviceRings {
  readonly hostTx: SpscRing;
  readonly wireOut: SpscRing;
  readonly wireIn: SpscRing;
  readonly hostRx: SpscRing;
}

/**
 * The emulator's packet path, as an inline packet-offload NIC has it. Transmit (from a VF's queue): the
 * frame's VF, VLAN and source MAC give its domain; an untrusted domain's traffic goes out untouched;
 * otherwise the domain's offloaded policies choose the SA, and the device encrypts with sequence numbers
 * of its own (cutting a segmented send into datagrams first, each with the next number). Receive (from
 * the wire): VLAN and destination MAC give the domain; ESP for one of its SAs is decrypted and handed to
 * the host; fragments follow the device's fragment policy; anything else reaches the host untouched.
 */
export class DeviceTraffic {
  readonly #pool: PacketPool;
  readonly #rings: DeviceRings;
  readonly #sad: DeviceSad;
  readonly #stats: Float64Array;
  readonly #fragments: FragmentPolicy;
  readonly #now: () => number;
  readonly #outbound = new EspOutbound({ capacity: 1 });
  readonly #inbound: EspInbound;
  readonly #vector: PacketVector;
  readonly #in = new Uint32Array(BATCH * DESCRIPTOR_WORDS);
  readonly #toWire = new Uint32Array((BATCH * MAX_SEGMENTS + BATCH) * DESCRIPTOR_WORDS);
  readonly #toHost = new Uint32Array(BATCH * DESCRIPTOR_WORDS);
  #wireCount = 0;
  #hostCount = 0;
  readonly #l2 = createL2Header();
  readonly #savedL2 = new Uint8Array(MAX_L2_BYTES);
  readonly #key = createFlowKey();
  readonly #segmentSlots = new Int32Array(MAX_SEGMENTS);

  constructor(
    pool: PacketPool,
    rings: DeviceRings,
    sad: DeviceSad,
    stats: Float64Array,
    fragments: FragmentPolicy,
    now: () => number,
  ) {
    this.#pool = pool;
    this.#rings = rings;
    this.#sad = sad;
    this.#stats = stats;
    this.#fragments = fragments;
    this.#now = now;
    this.#inbound = new EspInbound({ capacity: 1, table: sad.inbound });
    this.#vector = createPacketVector(pool.bytes, 1);
  }

  /** Whether a packet waits on an input queue. */
  pending(): boolean {
    return this.#rings.hostTx.availableRead() > 0 || this.#rings.wireIn.availableRead() > 0;
  }

  /** Processes up to one batch from each input queue; returns how many frames it took. */
  poll(): number {
    const tx = this.#pool.receive(this.#rings.hostTx, this.#in, BATCH);
    const now = this.#now();
    for (let i = 0; i < tx; i++) this.#transmit(i, now);
    this.#flushWire();
    const rx = this.#pool.receive(this.#rings.wireIn, this.#in, BATCH);
    for (let i = 0; i < rx; i++) this.#receive(i, now);
    this.#flushWire();
    this.#flushHost();
    return tx + rx;
  }

  #transmit(i: number, now: number): void {
    const pool = this.#pool;
    const buf = pool.bytes;
    const slot = descriptorSlot(this.#in, i);
    const flags = descriptorFlags(this.#in, i);
    const frame = pool.slotOffset(slot) + descriptorOffset(this.#in, i);
    const length = descriptorLength(this.#in, i);
    const l2 = this.#l2;
    if (!parseL2(buf, frame, length, l2)) {
      this.#drop(slot, DeviceStat.txDropped);
      return;
    }
    const domain = this.#sad.domainAt(portOf(flags), l2.vlan, buf, l2.srcMac);
    if (domain === undefined) {
      this.#drop(slot, DeviceStat.txSpoofDropped);
      return;
    }
    if (!domain.trusted) {
      this.#stats[DeviceStat.txBypassUntrusted]!++;
      this.#toWireAs(slot, frame, length, Stage.passed);
      return;
    }
    const ip = frame + l2.length;
    const stage = (flags >>> 4) & 0x0f;
    if (stage === Stage.segment) {
      this.#segmentAndSend(slot, frame, ip, length - l2.length, domain.id, now);
      return;
    }
    this.#classifyAndSend(slot, frame, ip, length - l2.length, domain.id, now);
  }

  #segmentAndSend(
    slot: number,
    frame: number,
    ip: number,
    ipLength: number,
    domainId: number,
    now: number,
  ): void {
    const pool = this.#pool;
    const mss = readU16(pool.bytes, pool.slotOffset(slot));
    const l2Length = ip - frame;
    const room = pool.slotSize - pool.headroom - pool.tailroom;
    const count = Math.min(MAX_SEGMENTS, Math.ceil(Math.max(1, ipLength - 28) / Math.max(1, mss)));
    if (mss === 0 || count > MAX_SEGMENTS || mss + 48 + l2Length > room) {
      this.#drop(slot, DeviceStat.txDropped);
      return;
    }
    const targets: { buffer: Uint8Array; offset: number }[] = [];
    for (let k = 0; k < count; k++) {
      const s = pool.alloc();
      if (s < 0) {
        for (let j = 0; j < k; j++) pool.free(this.#segmentSlots[j]!);
        this.#drop(slot, DeviceStat.txDropped);
        return;
      }
      this.#segmentSlots[k] = s;
      targets.push({ buffer: pool.bytes, offset: pool.dataOffset(s) + l2Length });
    }
    saveL2(pool.bytes, this.#l2, this.#savedL2);
    const made = segmentUdp(pool.bytes, ip, ipLength, mss, targets);
    if (made === 0) {
      for (let k = 0; k < count; k++) pool.free(this.#segmentSlots[k]!);
      this.#drop(slot, DeviceStat.txDropped);
      return;
    }
    for (let k = made; k < count; k++) pool.free(this.#segmentSlots[k]!);
    pool.free(slot);
    this.#stats[DeviceStat.segmentedSends]!++;
    this.#stats[DeviceStat.segmentsMade]! += made;
    const domain = this.#sad.domainById(domainId);
    if (domain === undefined) return;
    for (let k = 0; k < made; k++) {
      const s = this.#segmentSlots[k]!;
      const segIp = targets[k]!.offset;
      restoreL2(pool.bytes, segIp, l2Length, this.#savedL2);
      const segLength =
        pool.bytes[segIp]! >>> 4 === 4 ? readU16(pool.bytes, segIp + 2) : 40 + readU16(pool.bytes, segIp + 4);
      parseL2(pool.bytes, segIp - l2Length, segLength + l2Length, this.#l2);
      this.#classifyAndSend(s, segIp - l2Length, segIp, segLength, domainId, now);
    }
  }

  /** The domain's policies decide: protect with an SA (the device's sequence numbers), pass, or drop. */
  #classifyAndSend(
    slot: number,
    frame: number,
    ip: number,
    ipLength: number,
    domainId: number,
    now: number,
  ): void {
    const pool = this.#pool;
    const buf = pool.bytes;
    const domain = this.#sad.domainById(domainId);
    if (domain === undefined) {
      this.#drop(slot, DeviceStat.txDropped);
      return;
    }
    if (extractFlowKey(buf, ip, ipLength, this.#key) !== WIRE_OK) {
      this.#drop(slot, DeviceStat.txDropped);
      return;
    }
    const index = firstMatch(domain.ordered, this.#key, 'out', 0, 0);
    if (index < 0) {
      this.#stats[DeviceStat.txBypassNoPolicy]!++;
      this.#toWireAs(slot, frame, ip - frame + ipLength, Stage.passed);
      return;
    }
    const policy = domain.ordered[index]!;
    if (policy.action === 'discard') {
      this.#drop(slot, DeviceStat.txDropped);
      return;
    }
    const sa = this.#sad.get(domain.orderedHandles[index]!);
    if (policy.action === 'bypass' || sa === null) {
      if (policy.action !== 'bypass') {
        this.#drop(slot, DeviceStat.txDropped);
        return;
      }
      this.#stats[DeviceStat.txBypassNoPolicy]!++;
      this.#toWireAs(slot, frame, ip - frame + ipLength, Stage.passed);
      return;
    }
    const l2Length = ip - frame;
    saveL2(buf, this.#l2, this.#savedL2);
    const v = this.#vector;
    const slotStart = pool.slotOffset(slot);
    setPacket(v, 0, ip, ipLength, slotStart + MAX_L2_BYTES + 4, slotStart + pool.slotSize);
    v.count = 1;
    this.#outbound.encapsulate(sa.runtime, v, 0, 1, now);
    this.#sad.publish(sa);
    if (v.verdict[0] !== VERDICT_FORWARD) {
      this.#drop(slot, DeviceStat.txDropped);
      return;
    }
    const start = restoreL2(buf, v.offset[0]!, l2Length, this.#savedL2);
    this.#stats[DeviceStat.txProtected]!++;
    this.#toWireAs(slot, start, v.length[0]! + l2Length, Stage.processed);
  }

  #receive(i: number, now: number): void {
    const pool = this.#pool;
    const buf = pool.bytes;
    const slot = descriptorSlot(this.#in, i);
    const slotStart = pool.slotOffset(slot);
    const frame = slotStart + descriptorOffset(this.#in, i);
    const length = descriptorLength(this.#in, i);
    const l2 = this.#l2;
    if (!parseL2(buf, frame, length, l2)) {
      this.#drop(slot, DeviceStat.rxDropped);
      return;
    }
    const domain = this.#sad.domainFor(l2.vlan, buf, l2.dstMac);
    if (domain === undefined) {
      this.#stats[DeviceStat.rxNoDomain]!++;
      this.#toHostAs(slot, frame, length, Stage.passed, 0);
      return;
    }
    if (!domain.trusted) {
      this.#stats[DeviceStat.rxBypassUntrusted]!++;
      this.#toHostAs(slot, frame, length, Stage.passed, domain.vf);
      return;
    }
    const ip = frame + l2.length;
    const ipLength = length - l2.length;
    if (!carriesEsp(buf, ip, ipLength) && !isFragment(buf, ip)) {
      this.#toHostAs(slot, frame, length, Stage.passed, domain.vf);
      return;
    }
    if (isFragment(buf, ip)) {
      if (this.#fragments === 'drop') {
        this.#drop(slot, DeviceStat.fragmentsDropped);
        return;
      }
      this.#stats[DeviceStat.fragmentsToSoftware]!++;
      this.#toHostAs(slot, frame, length, Stage.passed, domain.vf);
      return;
    }
    saveL2(buf, l2, this.#savedL2);
    const l2Length = l2.length;
    const v = this.#vector;
    setPacket(v, 0, ip, ipLength, slotStart + MAX_L2_BYTES + 4, slotStart + pool.slotSize);
    v.count = 1;
    this.#inbound.decapsulate(v, 0, 1, now, domain.id);
    const verdict = v.verdict[0]!;
    if (verdict === VERDICT_FORWARD) {
      const sa = this.#sad.get(v.sa[0]!);
      if (sa !== null) this.#sad.publish(sa);
      const start = restoreL2(buf, v.offset[0]!, l2Length, this.#savedL2);
      this.#stats[DeviceStat.rxDecrypted]!++;
      this.#toHostAs(slot, start, v.length[0]! + l2Length, Stage.processed, domain.vf);
      return;
    }
    if (verdict === DropReason.noState || verdict === DropReason.unknownSpiDomain) {
      // Not an SA of the device: the host's software path may have it.
      this.#stats[DeviceStat.rxToHostNoSa]!++;
      this.#toHostAs(slot, frame, length, Stage.passed, domain.vf);
      return;
    }
    const sa = v.sa[0]! >= 0 ? this.#sad.get(v.sa[0]!) : null;
    if (sa !== null) this.#sad.publish(sa);
    this.#drop(slot, DeviceStat.rxDropped);
  }

  #drop(slot: number, stat: number): void {
    this.#stats[stat]!++;
    this.#pool.free(slot);
  }

  #toWireAs(slot: number, start: number, length: number, stage: number): void {
    const offset = start - this.#pool.slotOffset(slot);
    writeDescriptor(this.#toWire, this.#wireCount++, slot, offset, length, flagsFor(false, 0, stage));
    if (this.#wireCount * DESCRIPTOR_WORDS >= this.#toWire.length) this.#flushWire();
  }

  #toHostAs(slot: number, start: number, length: number, stage: number, vf: number): void {
    const offset = start - this.#pool.slotOffset(slot);
    writeDescriptor(this.#toHost, this.#hostCount++, slot, offset, length, flagsFor(true, vf, stage));
    if (this.#hostCount * DESCRIPTOR_WORDS >= this.#toHost.length) this.#flushHost();
  }

  #flushWire(): void {
    this.#wireCount = this.#flush(this.#rings.wireOut, this.#toWire, this.#wireCount, DeviceStat.txDropped);
  }

  #flushHost(): void {
    this.#hostCount = this.#flush(this.#rings.hostRx, this.#toHost, this.#hostCount, DeviceStat.rxDropped);
  }

  /** Sends what the ring takes; what it cannot take is dropped and counted (a full queue, as on a NIC). */
  #flush(ring: SpscRing, descs: Uint32Array, count: number, stat: number): number {
    if (count === 0) return 0;
    const sent = this.#pool.send(ring, descs, count);
    for (let i = sent; i < count; i++) {
      this.#stats[stat]!++;
      this.#pool.free(descriptorSlot(descs, i));
    }
    return 0;
  }
}
