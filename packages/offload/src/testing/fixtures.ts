import {
  createSaRuntime,
  EspInbound,
  EspOutbound,
  InboundSaTable,
  type SaConfig,
  type SaRuntime,
} from '@espresso/esp';
import { innerPacket, packetAt, vectorOf } from '@espresso/esp/testing';
import { type SaKeys, type StoredSaConfig, splitKeys } from '@espresso/sad';
import { type Policy, parsePolicyConfig } from '@espresso/spd';
import type { OffloadKind, PlacementKind } from '../capabilities.ts';
import type { OffloadPolicy, OffloadSaRequest } from '../driver.ts';

export const GATEWAY = {
  local: '192.0.2.1',
  remote: '198.51.100.2',
  insideLocal: '10.1.0.0/16',
  insideRemote: '10.2.0.0/16',
} as const;

let keySeed = 1;

function keyHex(bytes: number): string {
  const seed = keySeed++;
  let out = '';
  for (let i = 0; i < bytes; i++) out += ((seed * 29 + i * 13 + 5) & 0xff).toString(16).padStart(2, '0');
  return out;
}

/** An AES-GCM-128 tunnel SA (what every driver takes), as the ESP schema writes it, keys included. */
export function gcmSaConfig(direction: 'in' | 'out', spi: number, extra: Partial<SaConfig> = {}): SaConfig {
  return {
    spi,
    direction,
    mode: 'tunnel',
    encryption: { algorithm: 'aes-gcm', keyBits: 128, icvBytes: 16, key: keyHex(20) },
    local: direction === 'out' ? GATEWAY.local : GATEWAY.remote,
    remote: direction === 'out' ? GATEWAY.remote : GATEWAY.local,
    ...extra,
  };
}

/** Both ends of one direction: our SA (as the driver gets it) and the peer's, sharing the keys. */
export function saPairFor(
  direction: 'in' | 'out',
  spi: number,
  extra: Partial<SaConfig> = {},
): { ours: SaConfig; peer: SaConfig } {
  const ours = gcmSaConfig(direction, spi, extra);
  const peer: SaConfig = {
    ...ours,
    direction: direction === 'out' ? 'in' : 'out',
    local: ours.remote,
    remote: ours.local,
    ...(ours.encap === undefined
      ? {}
      : {
          encap: {
            type: 'udp',
            sourcePort: ours.encap.destinationPort ?? 4500,
            destinationPort: ours.encap.sourcePort ?? 4500,
          },
        }),
  };
  const {
    offload: _o,
    domain: _d,
    lifetime: _l,
    initialSequence: _s,
    initialReplay: _r,
    ...peerClean
  } = peer;
  return { ours, peer: peerClean };
}

export function split(config: SaConfig): { stored: StoredSaConfig; keys: SaKeys } {
  return splitKeys(config);
}

export function saRequest(
  name: string,
  config: SaConfig,
  kind: PlacementKind,
  reqid: number | null = 1,
): OffloadSaRequest {
  const { stored, keys } = splitKeys(config);
  return { name, kind, config: stored, keys, reqid, generation: 1, binding: null, resourceKind: null };
}

export function offloadKindOrSoftware(kinds: readonly OffloadKind[]): PlacementKind {
  return kinds[0] ?? 'software';
}

export function protectPolicy(
  id: string,
  saName: string,
  direction: 'in' | 'out' = 'out',
  extra: Record<string, unknown> = {},
): Policy {
  return parsePolicyConfig({
    id,
    direction,
    local: GATEWAY.insideLocal,
    remote: GATEWAY.insideRemote,
    action: 'protect',
    template: { mode: 'tunnel', sa: { name: saName } },
    ...extra,
  });
}

export function offered(
  policy: Policy,
  saName: string,
  config: SaConfig,
  reqid: number | null = 1,
): OffloadPolicy {
  return { policy, sa: { name: saName, config: splitKeys(config).stored, reqid } };
}

/** An inner IPv4 UDP packet from the protected inside to the remote inside. */
export function insidePacket(payloadBytes: number, seed = 1, src = '10.1.0.1', dst = '10.2.0.2'): Uint8Array {
  return innerPacket({ version: 4, src, dst, payloadBytes, seed });
}

/** The peer's end of an SA, with @espresso/esp's own processing: the independent side of each exchange. */
export class Peer {
  readonly runtime: SaRuntime;
  readonly #table = new InboundSaTable();
  readonly #inbound = new EspInbound({ capacity: 64, table: this.#table });
  readonly #outbound = new EspOutbound({ capacity: 64 });

  constructor(config: SaConfig) {
    this.runtime = createSaRuntime(config, { id: 1 });
    if (this.runtime.direction === 'in') this.#table.add(this.runtime);
  }

  /** Decrypts outer packets; returns each one's inner packet, or the drop reason code. */
  open(packets: readonly Uint8Array[]): (Uint8Array | number)[] {
    const v = vectorOf(packets);
    this.#inbound.decapsulate(v, 0, v.count, 0);
    return packets.map((_, i) => (v.verdict[i] === -1 ? packetAt(v, i) : v.verdict[i]!));
  }

  /** Encrypts inner packets with the peer's outbound SA. */
  seal(packets: readonly Uint8Array[]): Uint8Array[] {
    const v = vectorOf(packets);
    this.#outbound.encapsulate(this.runtime, v, 0, v.count, 0);
    return packets.map((_, i) => packetAt(v, i));
  }
}
