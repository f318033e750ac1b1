import { IptfsConfigSchema } from '@espresso/iptfs';
import { type Static, Type } from 'typebox';

/**
 * The configuration of one SA as JSON: what the HTTP API accepts, what `espresso process` reads from
 * its configuration file, and what the control plane keeps (the cold half of the hot/cold split; the
 * worker builds an `SaRuntime` from it). `validateSaConfig` adds the checks a schema cannot express.
 */

const hex = (description: string) => Type.String({ pattern: '^([0-9a-fA-F]{2})*$', description });

const address = (description: string) =>
  Type.String({ minLength: 2, maxLength: 45, description: `${description} (IPv4 dotted quad or IPv6 text)` });

const decimal64 = (description: string) =>
  Type.String({ pattern: '^[0-9]{1,20}$', description: `${description} (decimal string, 64-bit)` });

const u32 = (description: string) => Type.Integer({ minimum: 0, maximum: 0xffffffff, description });

const count = (description: string) =>
  Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description });

export const LifetimeLimitsSchema = Type.Object(
  {
    packets: Type.Optional(count('packets protected or accepted')),
    bytes: Type.Optional(count('bytes of inner packets protected or accepted')),
    addSeconds: Type.Optional(count('seconds since the SA was installed')),
    useSeconds: Type.Optional(count('seconds since the SA first carried a packet')),
  },
  { additionalProperties: false },
);

export const MarkSchema = Type.Object(
  { value: u32('mark value'), mask: Type.Optional(u32('mask, default 0xffffffff')) },
  { additionalProperties: false },
);

/**
 * Where the SA should run (libreswan's nic-offload, strongSwan's hw_offload): `none` on Espresso's own
 * workers, `packet` or `crypto` on an offload device (refused with the driver's reason when it cannot),
 * `auto` on a device when one takes it and on the workers otherwise. The ESP datapath ignores it; the
 * offload placement manager reads it.
 */
export const OffloadSchema = Type.Object(
  {
    mode: Type.Enum(['auto', 'packet', 'crypto', 'none'], {
      description: 'auto: a device if one takes the SA, else software; packet/crypto: that offload or fail',
    }),
    device: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$',
        description: 'the offload device by name (as GET /v1/offload lists them); any device when absent',
      }),
    ),
  },
  { additionalProperties: false },
);

export const SaConfigSchema = Type.Object(
  {
    spi: Type.Union(
      [
        Type.Integer({ minimum: 256, maximum: 0xffffffff }),
        Type.String({ pattern: '^0[xX][0-9a-fA-F]{1,8}$' }),
      ],
      {
        description:
          'Security Parameters Index: 256..0xffffffff (1..255 are reserved), number or "0x..." string',
      },
    ),
    direction: Type.Enum(['in', 'out']),
    mode: Type.Enum(['tunnel', 'transport', 'beet', 'iptfs'], {
      description:
        'iptfs: IP-TFS (RFC 9347), tunnel mode whose ESP payloads aggregate and fragment inner packets',
    }),
    encryption: Type.Object(
      {
        algorithm: Type.Enum(['aes-gcm', 'aes-gmac', 'chacha20-poly1305', 'aes-cbc', 'null']),
        keyBits: Type.Optional(
          Type.Enum([0, 128, 192, 256], {
            description: 'AES key size; implied for chacha20-poly1305 (256) and null (0)',
          }),
        ),
        icvBytes: Type.Optional(
          Type.Integer({ minimum: 0, maximum: 64, description: '8, 12 or 16 for aes-gcm (default 16)' }),
        ),
        key: hex('key, hex; for aes-gcm, aes-gmac and chacha20-poly1305 the key followed by the 4-byte salt'),
      },
      { additionalProperties: false },
    ),
    integrity: Type.Optional(
      Type.Object(
        {
          algorithm: Type.Enum(['hmac-sha256-128', 'hmac-sha384-192', 'hmac-sha512-256', 'none']),
          key: Type.Optional(hex('HMAC key, hex (RFC 4868: as long as the hash output)')),
        },
        { additionalProperties: false },
      ),
    ),
    engine: Type.Optional(
      Type.String({
        pattern: '^[a-z][a-z0-9-]{0,31}$',
        description:
          'crypto engine by name (node, sodium, noble, ... as the algorithm probe lists them) or auto',
      }),
    ),
    local: address('this end: the outer source of outbound packets, the outer destination of inbound ones'),
    remote: address('the peer: outer destination of outbound packets, expected outer source of inbound ones'),
    matchSource: Type.Optional(
      Type.Boolean({
        description: 'inbound: match the outer source address too, not only SPI and destination',
      }),
    ),
    encap: Type.Optional(
      Type.Object(
        {
          type: Type.Literal('udp'),
          sourcePort: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 65535, description: 'default 4500' }),
          ),
          destinationPort: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 65535, description: 'default 4500' }),
          ),
        },
        { additionalProperties: false, description: 'ESP in UDP (RFC 3948)' },
      ),
    ),
    esn: Type.Optional(Type.Boolean({ description: 'extended (64-bit) sequence numbers' })),
    replayWindow: Type.Optional(
      Type.Integer({
        minimum: 32,
        maximum: 1048576,
        description: 'anti-replay window in packets, default 1024',
      }),
    ),
    implicitIv: Type.Optional(
      Type.Boolean({ description: 'RFC 8750 implicit IV (aes-gcm, chacha20-poly1305)' }),
    ),
    initialSequence: Type.Optional(
      decimal64(
        'outbound: the sequence number of the first packet sent, default 1; resume above the last one used',
      ),
    ),
    initialReplay: Type.Optional(
      Type.Object(
        {
          top: decimal64(
            'inbound: highest sequence number already received, with the ESN high bits; default 0',
          ),
        },
        { additionalProperties: false },
      ),
    ),
    lifetime: Type.Optional(
      Type.Object(
        { soft: Type.Optional(LifetimeLimitsSchema), hard: Type.Optional(LifetimeLimitsSchema) },
        { additionalProperties: false },
      ),
    ),
    tfcPadTo: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 65535,
        description: 'tunnel mode: pad inner packets to this length (TFC)',
      }),
    ),
    dscp: Type.Optional(
      Type.Union([Type.Literal('copy'), Type.Integer({ minimum: 0, maximum: 63 })], {
        description: 'outer DSCP: copy from the inner header, or set to this value',
      }),
    ),
    ecn: Type.Optional(
      Type.Enum(['normal', 'compatibility'], {
        description: 'RFC 6040 ingress mode: normal copies the ECN field, compatibility clears it',
      }),
    ),
    df: Type.Optional(Type.Enum(['copy', 'set', 'clear'])),
    flowLabel: Type.Optional(Type.Enum(['copy', 'zero'])),
    ttl: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 255, description: 'outer TTL / hop limit, default 64' }),
    ),
    domain: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 2097151,
        description: 'SAD domain (a VLAN, a VF, a tenant); default 0',
      }),
    ),
    beet: Type.Optional(
      Type.Object(
        {
          innerLocal: address('BEET inner address of this end'),
          innerRemote: address('BEET inner address of the peer'),
        },
        { additionalProperties: false },
      ),
    ),
    iptfs: Type.Optional({
      ...IptfsConfigSchema,
      description:
        'iptfs mode: IP-TFS parameters (the knobs of `ip xfrm state ... iptfs` and more); defaults when absent',
    }),
    mark: Type.Optional(MarkSchema),
    outputMark: Type.Optional(MarkSchema),
    offload: Type.Optional(OffloadSchema),
  },
  { additionalProperties: false },
);

export type SaConfig = Static<typeof SaConfigSchema>;
export type LifetimeLimitsConfig = Static<typeof LifetimeLimitsSchema>;
