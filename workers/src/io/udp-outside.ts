import dgram from 'node:dgram';
import { once } from 'node:events';
import { formatIpv4Address, formatIpv6Address, type IpAddress, parseIpAddress } from '@espresso/wire';
import { writeUdpOuterHeader } from './outer-header-synth.ts';

export interface UdpOutsideOptions {
  /** The local address ESP arrives at: the SAs' `local` address (a specific address, not a wildcard). */
  readonly address: string;
  /** Default 4500 (RFC 3948). */
  readonly port?: number;
  /** Socket buffer sizes in bytes; default 4 MiB each (the kernel may cap them). */
  readonly bufferBytes?: number;
}

/** What the UDP endpoint hands io for each datagram: the ESP bytes and who sent them. */
export interface UdpReceiver {
  receiveUdp(endpoint: UdpOutside, message: Buffer, address: string, port: number): void;
}

/** A tiny cache of peer addresses as text, so sending to the same peer formats nothing. */
class AddressText {
  private lastV4 = -1;
  private lastV4Text = '';
  private readonly lastV6 = new Uint32Array(4);
  private lastV6Text = '';

  v4(word: number): string {
    if (word !== this.lastV4) {
      this.lastV4 = word;
      this.lastV4Text = formatIpv4Address(word);
    }
    return this.lastV4Text;
  }

  v6(words: Uint32Array): string {
    const l = this.lastV6;
    if (
      l[0] !== words[0] ||
      l[1] !== words[1] ||
      l[2] !== words[2] ||
      l[3] !== words[3] ||
      this.lastV6Text === ''
    ) {
      l.set(words);
      this.lastV6Text = formatIpv6Address(words);
    }
    return this.lastV6Text;
  }
}

/** Peers' addresses as words, parsed once per text seen (peers are few). */
class AddressWords {
  private readonly cache = new Map<string, Uint32Array>();

  of(text: string): Uint32Array | null {
    let words = this.cache.get(text);
    if (words === undefined) {
      const parsed = parseIpAddress(text);
      if (parsed === null) return null;
      if (this.cache.size >= 4096) this.cache.clear();
      words = parsed.words;
      this.cache.set(text, words);
    }
    return words;
  }
}

/**
 * ESP in UDP (RFC 3948) on one local address and port, on Node's own UDP socket (no privileges
 * needed, loopback included). Received datagrams go to io, which puts each in a pool slot behind the
 * IP and UDP headers it was carried in (what the datapath parses); io sends ESP packets from the
 * workers' tx rings with `send`, the slot staying held until the socket is done with it (`onSent`, in
 * send order).
 */
export class UdpOutside {
  readonly family: 4 | 6;
  readonly address: string;
  readonly local: IpAddress;
  port: number;
  rxPackets = 0;
  rxBytes = 0;
  txPackets = 0;
  txBytes = 0;
  sendErrors = 0;
  private readonly socket: dgram.Socket;
  private readonly text = new AddressText();
  private readonly words = new AddressWords();
  private closed = false;

  private constructor(socket: dgram.Socket, local: IpAddress, address: string, port: number) {
    this.socket = socket;
    this.local = local;
    this.family = local.version;
    this.address = address;
    this.port = port;
  }

  static async open(options: UdpOutsideOptions, receiver: UdpReceiver): Promise<UdpOutside> {
    const local = parseIpAddress(options.address);
    if (local === null) throw new RangeError(`address: '${options.address}' is not an IP address`);
    if (local.words.every((w) => w === 0)) {
      throw new RangeError(
        `address: ${options.address} is a wildcard; give the SAs' local address (ESP's outer destination)`,
      );
    }
    const bufferBytes = options.bufferBytes ?? 4 * 1024 * 1024;
    const socket = dgram.createSocket({
      type: local.version === 4 ? 'udp4' : 'udp6',
      ipv6Only: local.version === 6,
      recvBufferSize: bufferBytes,
      sendBufferSize: bufferBytes,
    });
    const endpoint = new UdpOutside(socket, local, options.address, options.port ?? 4500);
    socket.on('message', (message, rinfo) =>
      receiver.receiveUdp(endpoint, message, rinfo.address, rinfo.port),
    );
    // A send error also reaches the send's callback, where it is counted; a receive error ends nothing.
    socket.on('error', () => {});
    const bound = once(socket, 'listening');
    const failed = once(socket, 'error').then(([error]) => {
      throw error;
    });
    socket.bind(options.port ?? 4500, options.address);
    await Promise.race([bound, failed]);
    endpoint.port = socket.address().port;
    return endpoint;
  }

  /**
   * Writes the IP and UDP headers the datagram from `address`:`port` came in, to this endpoint, in front
   * of its `length` bytes at `at` (room for 48 bytes must be there). Returns the header bytes written, or
   * 0 when the source address cannot be read.
   */
  writeHeaders(buf: Uint8Array, at: number, length: number, address: string, port: number): number {
    const peer = this.words.of(address);
    if (peer === null) return 0;
    return writeUdpOuterHeader(buf, at, length, this.family, peer, this.local.words, port, this.port);
  }

  /** Sends `length` bytes at `offset` to the peer (IPv4 word or IPv6 words); `onSent` follows in order. */
  send(
    buf: Uint8Array,
    offset: number,
    length: number,
    port: number,
    peer4: number,
    peer6: Uint32Array,
    onSent: (error: Error | null) => void,
  ): void {
    const to = this.family === 4 ? this.text.v4(peer4) : this.text.v6(peer6);
    this.socket.send(buf, offset, length, port, to, onSent);
    this.txPackets++;
    this.txBytes += length;
  }

  /** A NAT keepalive (RFC 3948 §2.3): one 0xFF byte. */
  sendKeepalive(to: string, port: number): void {
    this.socket.send(keepalive, 0, 1, port, to, (error) => {
      if (error !== null) this.sendErrors++;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

const keepalive = Buffer.from([0xff]);
