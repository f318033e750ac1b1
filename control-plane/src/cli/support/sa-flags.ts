import type { SaCreate, SaUpdate } from '@espresso/api';
import { type ParsedArgs, stringOption, UsageError } from '../command.ts';
import { integerArgument, keyArgument, readJson } from './input.ts';

export const saFlagOptions = {
  file: { type: 'string', short: 'f' },
  name: { type: 'string' },
  spi: { type: 'string' },
  dir: { type: 'string' },
  mode: { type: 'string' },
  enc: { type: 'string' },
  key: { type: 'string' },
  integ: { type: 'string' },
  'integ-key': { type: 'string' },
  local: { type: 'string' },
  remote: { type: 'string' },
  encap: { type: 'string' },
  esn: { type: 'boolean' },
  'replay-window': { type: 'string' },
  reqid: { type: 'string' },
  domain: { type: 'string' },
  group: { type: 'string' },
  resource: { type: 'string' },
  engine: { type: 'string' },
  mark: { type: 'string' },
  'output-mark': { type: 'string' },
} as const;

export const saFlagUsage = [
  'SA fields (or --file FILE with the JSON of POST /v1/sas, - for standard input):',
  '  --name NAME             default <dir>-<spi as 8 hex digits>',
  '  --spi SPI               decimal or 0x hex',
  '  --dir in|out',
  '  --mode tunnel|transport|beet            default tunnel',
  '  --enc ALG               aes-gcm-256 (default), aes-gcm-128-icv8, aes-gmac-256, chacha20-poly1305,',
  '                          aes-cbc-128, aes-cbc-256, null',
  '  --key HEX|@FILE         encryption key (+ 4-byte salt for AES-GCM, GMAC, ChaCha20-Poly1305)',
  '  --integ ALG --integ-key HEX|@FILE       hmac-sha256-128, hmac-sha384-192, hmac-sha512-256',
  '  --local ADDR --remote ADDR              outer addresses',
  '  --encap SPORT:DPORT     ESP in UDP (RFC 3948); "udp" for 4500:4500',
  '  --esn                   64-bit extended sequence numbers',
  '  --replay-window N       inbound anti-replay window (default 1024)',
  '  --reqid N  --domain N  --engine auto|node|sodium|noble|openssl',
  '  --group NAME --resource N|fallback      per-resource SA of an SA group (RFC 9611)',
  '  --mark VALUE[/MASK]  --output-mark VALUE[/MASK]',
].join('\n');

function encap(value: string): { sourcePort: number; destinationPort: number } {
  if (value === 'udp') return { sourcePort: 4500, destinationPort: 4500 };
  const match = /^(\d{1,5}):(\d{1,5})$/.exec(value);
  const s = Number(match?.[1]);
  const d = Number(match?.[2]);
  if (match === null || s < 1 || s > 65535 || d < 1 || d > 65535) {
    throw new UsageError('--encap: expected SPORT:DPORT or udp');
  }
  return { sourcePort: s, destinationPort: d };
}

function mark(value: string, option: string): { value: number; mask?: number } {
  const [v, m] = value.split('/');
  const parsed = integerArgument(v ?? '', option);
  return m === undefined ? { value: parsed } : { value: parsed, mask: integerArgument(m, option) };
}

function encryption(value: string, key: string): SaCreate['encryption'] {
  const gcm = /^(aes-gcm|aes-gmac)-(128|192|256)(?:-icv(8|12|16))?$/.exec(value);
  if (gcm !== null) {
    const icv = gcm[3] === undefined ? {} : { icvBytes: Number(gcm[3]) };
    return { algorithm: gcm[1] as 'aes-gcm', keyBits: Number(gcm[2]) as 128, key, ...icv };
  }
  const cbc = /^aes-cbc-(128|192|256)$/.exec(value);
  if (cbc !== null) return { algorithm: 'aes-cbc', keyBits: Number(cbc[1]) as 128, key };
  if (value === 'chacha20-poly1305') return { algorithm: 'chacha20-poly1305', key };
  if (value === 'null') return { algorithm: 'null', key: '' };
  throw new UsageError(`--enc: unknown algorithm '${value}'`);
}

/** The body of POST /v1/sas, from --file or from the flags. */
export function saFromArgs(args: ParsedArgs): SaCreate {
  const file = stringOption(args, 'file');
  if (file !== undefined) return readJson(file) as SaCreate;
  const required = (name: string) => {
    const value = stringOption(args, name);
    if (value === undefined) throw new UsageError(`missing --${name} (or give the SA as --file FILE)`);
    return value;
  };
  const dir = required('dir');
  if (dir !== 'in' && dir !== 'out') throw new UsageError('--dir: expected in or out');
  const algorithm = stringOption(args, 'enc') ?? 'aes-gcm-256';
  const key = algorithm === 'null' ? '' : keyArgument(required('key'), 'key');
  const integ = stringOption(args, 'integ');
  const group = stringOption(args, 'group');
  const resource = stringOption(args, 'resource');
  if ((group === undefined) !== (resource === undefined))
    throw new UsageError('--group and --resource go together');
  const sa: Record<string, unknown> = {
    spi: integerArgument(required('spi'), 'spi'),
    direction: dir,
    mode: stringOption(args, 'mode') ?? 'tunnel',
    encryption: encryption(algorithm, key),
    local: required('local'),
    remote: required('remote'),
  };
  if (integ !== undefined) {
    sa.integrity = { algorithm: integ, key: keyArgument(required('integ-key'), 'integ-key') };
  }
  const name = stringOption(args, 'name');
  if (name !== undefined) sa.name = name;
  const encapText = stringOption(args, 'encap');
  if (encapText !== undefined) sa.encap = { type: 'udp', ...encap(encapText) };
  if (args.values.esn === true) sa.esn = true;
  const window = stringOption(args, 'replay-window');
  if (window !== undefined) sa.replayWindow = integerArgument(window, 'replay-window');
  const reqid = stringOption(args, 'reqid');
  if (reqid !== undefined) sa.reqid = integerArgument(reqid, 'reqid');
  const domain = stringOption(args, 'domain');
  if (domain !== undefined) sa.domain = integerArgument(domain, 'domain');
  const engine = stringOption(args, 'engine');
  if (engine !== undefined) sa.engine = engine;
  if (group !== undefined && resource !== undefined) {
    sa.binding =
      resource === 'fallback'
        ? { group, fallback: true }
        : { group, resource: integerArgument(resource, 'resource') };
  }
  const m = stringOption(args, 'mark');
  if (m !== undefined) sa.mark = mark(m, 'mark');
  const om = stringOption(args, 'output-mark');
  if (om !== undefined) sa.outputMark = mark(om, 'output-mark');
  return sa as SaCreate;
}

/** The body of PATCH /v1/sas/{name}, from --file or from the flags that change in place. */
export function saUpdateFromArgs(args: ParsedArgs): SaUpdate {
  const file = stringOption(args, 'file');
  if (file !== undefined) return readJson(file) as SaUpdate;
  const update: Record<string, unknown> = {};
  const local = stringOption(args, 'local');
  if (local !== undefined) update.local = local;
  const remote = stringOption(args, 'remote');
  if (remote !== undefined) update.remote = remote;
  const encapText = stringOption(args, 'encap');
  if (encapText !== undefined) update.encap = encapText === 'none' ? null : encap(encapText);
  const m = stringOption(args, 'mark');
  if (m !== undefined) update.mark = m === 'none' ? null : mark(m, 'mark');
  const om = stringOption(args, 'output-mark');
  if (om !== undefined) update.outputMark = om === 'none' ? null : mark(om, 'output-mark');
  if (Object.keys(update).length === 0) {
    throw new UsageError(
      'nothing to change: give --local, --remote, --encap, --mark, --output-mark or --file',
    );
  }
  return update as SaUpdate;
}
