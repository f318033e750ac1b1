import type { PacketPool } from '@espresso/ring';
import { readU32, WIRE_OK } from '@espresso/wire';
import { createFragments, fragmentOuterPacket } from './outer-fragmenter.ts';
import type { PathTable } from './path-table.ts';
import type { RawEspOutside } from './raw-esp-outside.ts';

const NO_SLOT = 0xffffffff;

/** A raw packet that could not be sent: io counts, captures and frees it. */
export type RawRefused = (slot: number, offset: number, length: number, reason: number) => void;

/**
 * Raw ESP packets on their way out: gathered from a tx ring batch, each sent whole to its outer
 * destination, or, above its SA's path MTU, fragmented first (RFC 4301 §8.1: the ESP packet is
 * fragmented, after encryption), then their slots freed.
 */
export class RawTransmit {
  fragmentsSent = 0;
  private readonly pool: PacketPool;
  private readonly bytes: Uint8Array;
  private readonly paths: PathTable;
  private readonly refused: RawRefused;
  private readonly slots: Uint32Array;
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  private readonly one = { offsets: new Uint32Array(1), lengths: new Uint32Array(1) };
  private readonly address = new Uint8Array(16);
  private readonly fragmentBuffer = new Uint8Array(65536 + 64 * 64);
  private readonly fragments = createFragments(64);
  private readonly fragmentAddresses = new Uint8Array(16 * 64);
  private count = 0;
  private identification = 1;

  constructor(pool: PacketPool, paths: PathTable, batch: number, refused: RawRefused) {
    this.pool = pool;
    this.bytes = pool.bytes;
    this.paths = paths;
    this.refused = refused;
    this.slots = new Uint32Array(batch);
    this.offsets = new Uint32Array(batch);
    this.lengths = new Uint32Array(batch);
  }

  add(slot: number, at: number, length: number): void {
    const k = this.count++;
    this.slots[k] = slot;
    this.offsets[k] = at;
    this.lengths[k] = length;
  }

  /** Sends what was added through the endpoint of each packet's family (`endpointFor`), frees the slots. */
  flush(endpointFor: (version: number) => RawEspOutside | null): void {
    const bytes = this.bytes;
    const n = this.count;
    this.count = 0;
    for (let i = 0; i < n; i++) {
      const at = this.offsets[i]!;
      const length = this.lengths[i]!;
      const version = bytes[at]! >>> 4;
      const raw = endpointFor(version)!;
      const l4 = version === 4 ? at + ((bytes[at]! & 0x0f) << 2) : at + 40;
      const pmtu = this.paths.pmtuOfSpi(readU32(bytes, l4));
      const address = this.address;
      address.fill(0);
      if (version === 4) address.set(bytes.subarray(at + 16, at + 20));
      else address.set(bytes.subarray(at + 24, at + 40));
      if (length <= pmtu) {
        this.one.offsets[0] = at;
        this.one.lengths[0] = length;
        raw.send(bytes, this.one.offsets, this.one.lengths, address, 1);
        continue;
      }
      const f = this.fragments;
      this.identification = (this.identification + 1) >>> 0 || 1;
      const r = fragmentOuterPacket(bytes, at, length, pmtu, this.identification, this.fragmentBuffer, f);
      if (r !== WIRE_OK) {
        const slot = this.slots[i]!;
        this.refused(slot, at - this.pool.slotOffset(slot), length, r);
        this.slots[i] = NO_SLOT;
        continue;
      }
      for (let k = 0; k < f.count; k++) this.fragmentAddresses.set(address, 16 * k);
      this.fragmentsSent += raw.send(
        this.fragmentBuffer,
        f.offsets,
        f.lengths,
        this.fragmentAddresses,
        f.count,
      );
    }
    for (let i = 0; i < n; i++) {
      const slot = this.slots[i]!;
      if (slot !== NO_SLOT) this.pool.free(slot);
    }
  }
}
