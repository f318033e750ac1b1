import { closeSync } from 'node:fs';
import { FdWatch, openRawSocket, requireSysAddon, type SysAddon } from '@espresso/sys';
import { IpProtocol } from '@espresso/wire';
import {
  createPathMtuReport,
  type PathMtuReport,
  readIcmpv4TooBig,
  readIcmpv6TooBig,
} from './path-mtu-error.ts';

/**
 * Raw ICMP and ICMPv6 sockets (root): they receive the "too big" errors routers send about our ESP
 * packets (path MTU, kept per SA), and send the ICMP errors this gateway answers inside senders with, as
 * the host's own packets (the kernel writes the IP header and picks the source address).
 */
export class IcmpSockets {
  readonly fd4: number;
  readonly fd6: number;
  private readonly sys: SysAddon;
  private readonly watches: FdWatch[] = [];
  private readonly buffer = new Uint8Array(2048);
  private readonly offsets = Uint32Array.of(0);
  private readonly lengths = new Uint32Array(1);
  private readonly addresses = new Uint8Array(32);
  private readonly sendOffsets = new Uint32Array(1);
  private readonly sendLengths = new Uint32Array(1);
  private readonly sendAddress = new Uint8Array(16);
  private readonly report = createPathMtuReport();
  errorsSent = 0;
  reports = 0;

  constructor() {
    this.sys = requireSysAddon('ICMP');
    this.fd4 = openRawSocket(4, IpProtocol.icmp, false);
    try {
      this.fd6 = openRawSocket(6, IpProtocol.icmpv6, false);
    } catch (error) {
      closeSync(this.fd4);
      throw error;
    }
  }

  /** Calls `onReport` for each too-big error read. */
  watch(onReport: (report: PathMtuReport) => void): void {
    this.watches.push(new FdWatch(this.fd4, () => this.drain(4, onReport)));
    this.watches.push(new FdWatch(this.fd6, () => this.drain(6, onReport)));
  }

  /** Sends the ICMP error in `packet[0, length)` (a whole IP packet) to its destination. */
  sendError(packet: Uint8Array, length: number, version: 4 | 6): boolean {
    const header = version === 4 ? 20 : 40;
    if (length <= header) return false;
    this.sendAddress.fill(0);
    if (version === 4) this.sendAddress.set(packet.subarray(16, 20));
    else this.sendAddress.set(packet.subarray(24, 40));
    this.sendOffsets[0] = header;
    this.sendLengths[0] = length - header;
    const fd = version === 4 ? this.fd4 : this.fd6;
    const sent = this.sys.sendBatch(
      fd,
      version,
      packet,
      this.sendOffsets,
      this.sendLengths,
      this.sendAddress,
      1,
    );
    if (sent === 1) this.errorsSent++;
    return sent === 1;
  }

  private drain(version: 4 | 6, onReport: (report: PathMtuReport) => void): void {
    const fd = version === 4 ? this.fd4 : this.fd6;
    for (let k = 0; k < 64; k++) {
      const n = this.sys.recvBatch(
        fd,
        this.buffer,
        this.offsets,
        this.lengths,
        1,
        this.buffer.length,
        this.addresses,
      );
      if (n <= 0) return;
      const length = this.lengths[0]!;
      const ok =
        version === 4
          ? readIcmpv4TooBig(this.buffer, 0, length, this.report)
          : readIcmpv6TooBig(this.buffer, 0, length, this.report);
      if (!ok) continue;
      this.reports++;
      onReport(this.report);
    }
  }

  close(): void {
    for (const w of this.watches) w.close();
    this.watches.length = 0;
    closeSync(this.fd4);
    closeSync(this.fd6);
  }
}
