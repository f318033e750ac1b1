import { type AcquireSettings, DEFAULT_ACQUIRE_SETTINGS } from './acquire.ts';
import { type Prefix, parsePrefix } from './address.ts';
import { type FieldError, SpdError, SpdErrorCode } from './errors.ts';
import {
  ANY_BYTE,
  ANY_PORT,
  DEFAULT_ACTIONS,
  DEFAULT_PFP_CAP,
  type DefaultActions,
  hasPorts,
  isIcmp,
  type Policy,
  type Range,
  type SaReference,
  type Template,
} from './policy.ts';
import {
  type DefaultActionsConfig,
  DefaultActionsSchema,
  type PolicyConfig,
  PolicyConfigSchema,
  protocolNames,
  type SpdConfig,
  SpdConfigSchema,
} from './schema.ts';
import { schemaErrors } from './schema-errors.ts';

export type Validated<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: FieldError[] };

const prefixProblem = {
  syntax: 'is not an IPv4 or IPv6 address or prefix',
  length: 'has a prefix length out of range for its family',
  'host-bits': 'has bits set after the prefix length (write the network address)',
} as const;

function toRange(value: number | { from: number; to: number } | undefined, any: Range): Range {
  if (value === undefined) return any;
  if (typeof value === 'number') return { from: value, to: value };
  return { from: value.from, to: value.to };
}

/**
 * Checks a policy the schema accepted for what JSON Schema cannot say, and normalises it. `id` is used
 * when the config carries none. Every error names its field under `basePath`.
 */
function normalisePolicy(config: PolicyConfig, basePath: string, id: string): Validated<Policy> {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => errors.push({ path: `${basePath}/${field}`, message });

  const local = parsePrefix(config.local);
  const remote = parsePrefix(config.remote);
  if (typeof local === 'string') fail('local', prefixProblem[local]);
  if (typeof remote === 'string') fail('remote', prefixProblem[remote]);
  if (typeof local !== 'string' && typeof remote !== 'string' && local.family !== remote.family) {
    fail('remote', `is IPv${remote.family} but local is IPv${local.family}`);
  }
  const family = typeof local !== 'string' ? local.family : typeof remote !== 'string' ? remote.family : 4;

  const protocol =
    config.protocol === undefined || config.protocol === 'any'
      ? null
      : typeof config.protocol === 'number'
        ? config.protocol
        : protocolNames[config.protocol];

  const ranges: Record<'localPorts' | 'remotePorts' | 'icmpType' | 'icmpCode', Range> = {
    localPorts: toRange(config.localPorts, ANY_PORT),
    remotePorts: toRange(config.remotePorts, ANY_PORT),
    icmpType: toRange(config.icmpType, ANY_BYTE),
    icmpCode: toRange(config.icmpCode, ANY_BYTE),
  };
  for (const field of ['localPorts', 'remotePorts', 'icmpType', 'icmpCode'] as const) {
    if (config[field] === undefined) continue;
    const range = ranges[field];
    if (range.from > range.to) fail(`${field}/to`, `must not be below from (${range.from})`);
    const allowed = field.startsWith('icmp') ? isIcmp(family, protocol) : hasPorts(protocol);
    if (!allowed) {
      fail(
        field,
        field.startsWith('icmp')
          ? `needs protocol ${family === 4 ? 'icmp (1)' : 'icmpv6 (58)'}`
          : 'needs protocol tcp, udp, sctp or udplite',
      );
    }
  }

  const dscp =
    config.dscp === undefined || config.dscp === 'any' ? null : [...config.dscp].sort((a, b) => a - b);
  const mark = { value: config.mark?.value ?? 0, mask: config.mark?.mask ?? (config.mark ? 0xffffffff : 0) };
  if ((mark.value & ~mark.mask) !== 0) fail('mark/value', 'has bits outside mask');

  let template: Template | undefined;
  if (config.action === 'protect') {
    if (config.template === undefined) fail('template', 'is required when action is protect');
    else if (config.template.sa !== undefined && config.template.saGroup !== undefined) {
      fail('template/saGroup', 'cannot be given together with sa');
    } else if (config.template.reqid !== undefined && config.template.sa !== undefined) {
      fail('template/reqid', 'cannot be given together with sa');
    } else if (config.template.reqid !== undefined && config.template.saGroup !== undefined) {
      fail('template/reqid', 'cannot be given together with saGroup');
    } else {
      const sa: SaReference | undefined =
        config.template.sa === undefined
          ? undefined
          : 'spi' in config.template.sa
            ? { spi: config.template.sa.spi }
            : { name: config.template.sa.name };
      template = {
        mode: config.template.mode,
        ...(sa ? { sa } : {}),
        ...(config.template.saGroup !== undefined ? { saGroup: config.template.saGroup } : {}),
        ...(config.template.reqid !== undefined ? { reqid: config.template.reqid } : {}),
      };
    }
  } else {
    if (config.template !== undefined) fail('template', `is only for action protect, not ${config.action}`);
    if (config.trap) fail('trap', 'is only for action protect');
    if (config.pfp) fail('pfp', 'is only for action protect');
  }
  if (config.pfpCap !== undefined && !config.pfp) fail('pfpCap', 'needs pfp: true');

  if (errors.length > 0 || typeof local === 'string' || typeof remote === 'string')
    return { ok: false, errors };
  const policy: Policy = {
    id: config.id ?? id,
    direction: config.direction,
    priority: config.priority ?? 0,
    selector: {
      family,
      local: local as Prefix,
      remote: remote as Prefix,
      protocol,
      ...ranges,
      dscp,
      ifId: config.ifId ?? 0,
      mark,
    },
    action: config.action,
    ...(template ? { template } : {}),
    trap: config.trap ?? false,
    pfp: config.pfp ?? false,
    pfpCap: config.pfpCap ?? DEFAULT_PFP_CAP,
  };
  return { ok: true, value: policy };
}

/** Validates one policy as the API receives it. `id` names a policy whose config has none. */
export function validatePolicyConfig(
  input: unknown,
  options: { id?: string; basePath?: string } = {},
): Validated<Policy> {
  const basePath = options.basePath ?? '';
  const errors = schemaErrors(PolicyConfigSchema, input, basePath);
  if (errors.length > 0) return { ok: false, errors };
  return normalisePolicy(input as PolicyConfig, basePath, options.id ?? '');
}

export function validateDefaultActions(input: unknown, basePath = ''): Validated<DefaultActions> {
  const errors = schemaErrors(DefaultActionsSchema, input, basePath);
  if (errors.length > 0) return { ok: false, errors };
  const config = input as DefaultActionsConfig;
  return {
    ok: true,
    value: {
      in: config.in ?? DEFAULT_ACTIONS.in,
      out: config.out ?? DEFAULT_ACTIONS.out,
      fwd: config.fwd ?? DEFAULT_ACTIONS.fwd,
    },
  };
}

export interface ValidSpdConfig {
  readonly defaults: DefaultActions;
  readonly policies: readonly Policy[];
  /** For the control plane's AcquireTable: the configured values over the defaults. */
  readonly acquire: AcquireSettings;
  readonly config: SpdConfig;
}

/**
 * Validates a whole SPD configuration. Policies without an id get "policy-<n>" (their position, from
 * 1); ids must be unique.
 */
export function validateSpdConfig(input: unknown): Validated<ValidSpdConfig> {
  const shape = schemaErrors(SpdConfigSchema, input);
  if (shape.length > 0) return { ok: false, errors: shape };
  const config = input as SpdConfig;
  const errors: FieldError[] = [];
  const policies: Policy[] = [];
  const ids = new Map<string, number>();
  config.policies.forEach((p, i) => {
    const result = normalisePolicy(p, `/policies/${i}`, `policy-${i + 1}`);
    if (!result.ok) {
      errors.push(...result.errors);
      return;
    }
    const earlier = ids.get(result.value.id);
    if (earlier !== undefined) {
      errors.push({ path: `/policies/${i}/id`, message: `duplicates the id of /policies/${earlier}` });
      return;
    }
    ids.set(result.value.id, i);
    policies.push(result.value);
  });
  const defaults = validateDefaultActions(config.defaults ?? {}, '/defaults');
  if (!defaults.ok) errors.push(...defaults.errors);
  if (errors.length > 0 || !defaults.ok) return { ok: false, errors };
  const acquire: AcquireSettings = { ...DEFAULT_ACQUIRE_SETTINGS, ...config.acquire };
  return { ok: true, value: { defaults: defaults.value, policies, acquire, config } };
}

/** validatePolicyConfig that throws an SpdError (code invalid) naming the fields. */
export function parsePolicyConfig(input: unknown, options: { id?: string; basePath?: string } = {}): Policy {
  const result = validatePolicyConfig(input, options);
  if (!result.ok) throw new SpdError(SpdErrorCode.invalid, result.errors);
  return result.value;
}
