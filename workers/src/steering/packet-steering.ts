import {
  createFlowKey,
  createIpv6ExtensionChain,
  extractFlowKey,
  IpProtocol,
  readU16,
  readU32,
  WIRE_OK,
  walkIpv6Extensions,
} from '@espresso/wire';
import type { SpiSteeringTable } from '../shared/spi-steering-table.ts';
import { flowHash, workerOfHash } from './flow-hash.ts';

/**
 * io's steering, as a NIC's RSS does it: plaintext from the inside goes to a worker by a symmetric hash
 * of its flow; ESP from the outside goes to the worker that owns the SA instance its SPI names (the
 * shared SPI table), so inbound SA state has one owner (DESIGN invariant 1). Outside packets that carry
 * no SPI (clear traffic, IKE, keepalives) are spread by flow hash like inside ones; what cannot be
 * parsed goes to worker 0, which counts why it drops it; an SPI nobody steered goes to SPI mod workers,
 * which drops it as noState. Reads only the headers; allocates nothing.
 */
export class PacketSteering {
  readonly workers: number;
  private readonly table: SpiSteeringTable;
  private readonly key = createFlowKey();
  private readonly chain = createIpv6ExtensionChain();
  /** UDP destination ports that carry ESP (non-zero): 4500 and the inbound SAs' own ports. */
  readonly espPorts = new Uint16Array(65536);

  constructor(workers: number, table: SpiSteeringTable) {
    this.workers = workers;
    this.table = table;
    this.espPorts[4500] = 1;
  }

  /** Worker for a plaintext packet to protect. */
  outbound(buf: Uint8Array, offset: number, length: number): number {
    if (this.workers === 1) return 0;
    if (extractFlowKey(buf, offset, length, this.key) !== WIRE_OK) return 0;
    return workerOfHash(flowHash(this.key), this.workers);
  }

  /** Worker for an outer packet carrying ESP or ESP-in-UDP. */
  inbound(buf: Uint8Array, offset: number, length: number): number {
    if (this.workers === 1) return 0;
    const spi = this.spiOf(buf, offset, length);
    if (spi <= 0) return this.outbound(buf, offset, length);
    const owner = this.table.lookup(spi);
    return owner >= 0 && owner < this.workers ? owner : spi % this.workers;
  }

  /**
   * The SPI of an ESP or ESP-in-UDP packet, or 0 when there is none (not ESP, IKE behind the non-ESP
   * marker, a keepalive) or it cannot be read.
   */
  spiOf(buf: Uint8Array, offset: number, length: number): number {
    const end = Math.min(offset + length, buf.length);
    if (end - offset < 20) return 0;
    const version = buf[offset]! >>> 4;
    let protocol: number;
    let l4: number;
    if (version === 4) {
      protocol = buf[offset + 9]!;
      l4 = offset + ((buf[offset]! & 0x0f) << 2);
      if ((readU16(buf, offset + 6) & 0x1fff) !== 0) return 0;
    } else if (version === 6) {
      if (end - offset < 40) return 0;
      protocol = buf[offset + 6]!;
      l4 = offset + 40;
      if (protocol !== IpProtocol.esp && protocol !== IpProtocol.udp) {
        const payloadEnd = Math.min(end, offset + 40 + readU16(buf, offset + 4));
        if (walkIpv6Extensions(buf, offset, payloadEnd, this.chain) !== WIRE_OK) return 0;
        protocol = this.chain.upperProtocol;
        l4 = this.chain.upperOffset;
      }
    } else {
      return 0;
    }
    if (protocol === IpProtocol.udp) {
      if (l4 + 8 > end || this.espPorts[readU16(buf, l4 + 2)] === 0) return 0;
      l4 += 8;
    } else if (protocol !== IpProtocol.esp) return 0;
    if (l4 + 4 > end) return 0;
    return readU32(buf, l4);
  }
}
