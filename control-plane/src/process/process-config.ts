import type { ConfigDocument, SaDocumentEntry } from '@espresso/api';
import type { SaConfig } from '@espresso/esp';
import { spiOf } from '@espresso/sad';
import { type Policy, validateSpdConfig } from '@espresso/spd';
import { ConfigFileError, type ConfigIssue } from '../config/config-issue.ts';
import { InProcessDatapath } from '../datapath/in-process-datapath.ts';
import { ApiError } from '../errors.ts';
import { dropPlan, planConfig } from '../state/config-plan.ts';
import { ControlPlane } from '../state/control-plane.ts';
import { defaultSaName, splitRequest } from '../state/sa-preparation.ts';

/** One SA of the configuration, as `espresso process` installs it. */
export interface ProcessSa {
  readonly name: string;
  /** The ESP configuration, keys included. */
  readonly config: SaConfig;
  /** Its place in the document's `sas`, for messages and statistics. */
  readonly index: number;
  readonly group: string | null;
  /** The worker index or DSCP class it is bound to in its group; null for the fallback SA or no group. */
  readonly resource: number | null;
  /** The reqid policy templates may name it by; null for none. */
  readonly reqid: number | null;
}

/** Which SAs a protect policy may use, worked out once from the document. */
export type PolicySas =
  | { readonly kind: 'sas'; readonly names: readonly string[] }
  | {
      readonly kind: 'group';
      readonly resource: 'worker' | 'dscp';
      /** resource (worker index or DSCP class) -> SA name. */
      readonly members: ReadonlyMap<number, string>;
      readonly fallback: string | null;
      /** Every member of the direction, fallback included. */
      readonly names: readonly string[];
    }
  /** Inbound only: any SA of the template's mode (the template names none). */
  | { readonly kind: 'mode'; readonly names: readonly string[] };

export interface ProcessConfig {
  readonly sas: readonly ProcessSa[];
  /** The SPD as validated: policies in document order, with their ids. */
  readonly policies: readonly Policy[];
  readonly defaults: { readonly in: 'allow' | 'drop'; readonly out: 'allow' | 'drop' };
  /** Policy id -> the SAs it protects with (protect policies of direction in and out only). */
  readonly policySas: ReadonlyMap<string, PolicySas>;
}

/**
 * Checks a configuration document completely before `espresso process` touches a packet: first as
 * PUT /v1/config would (every SA through the ESP validator and the crypto registry, names, SPIs, groups,
 * the SPD compiled), then what only an offline run needs: every SA carries its keys (there is no running
 * SA to keep them from), and every protect policy names SAs the document has, in the policy's mode (no
 * IKE daemon will answer an ACQUIRE). Throws `ConfigFileError` listing every field at fault.
 */
export async function checkProcessConfig(doc: ConfigDocument, file: string): Promise<ProcessConfig> {
  const keyIssues = offlineIssues(doc.sas ?? []);
  if (keyIssues.length > 0) throw ConfigFileError.invalid(file, keyIssues);

  const scratch = new ControlPlane({ datapath: new InProcessDatapath() });
  try {
    dropPlan(planConfig(scratch, doc));
  } catch (error) {
    if (error instanceof ApiError) {
      throw ConfigFileError.invalid(
        file,
        error.issues.map((i) => ({ path: i.path, message: i.message })),
      );
    }
    throw error;
  } finally {
    await scratch.close();
  }

  const sas = (doc.sas ?? []).map((entry, index) => processSa(entry, index));
  const spd = validateSpdConfig(doc.spd ?? { policies: [] });
  if (!spd.ok) throw ConfigFileError.invalid(file, prefixed('/spd', spd.errors));
  const issues: ConfigIssue[] = [];
  const policySas = new Map<string, PolicySas>();
  const groups = new Map((doc.saGroups ?? []).map((g) => [g.name, g.resource]));
  spd.value.policies.forEach((policy, i) => {
    const bound = bindPolicy(policy, `/spd/policies/${i}/template`, sas, groups, issues);
    if (bound !== null) policySas.set(policy.id, bound);
  });
  if (issues.length > 0) throw ConfigFileError.invalid(file, issues);
  return {
    sas,
    policies: spd.value.policies,
    defaults: { in: spd.value.defaults.in, out: spd.value.defaults.out },
    policySas,
  };
}

function offlineIssues(entries: readonly SaDocumentEntry[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  entries.forEach((entry, i) => {
    if (entry.keyFingerprint !== undefined) {
      issues.push({
        path: `/sas/${i}/keyFingerprint`,
        message: 'cannot be used here: espresso process has no running SA to keep keys from; give the keys',
      });
    } else if (entry.encryption.key === undefined) {
      issues.push({ path: `/sas/${i}/encryption/key`, message: 'is required' });
    }
    const offload = (entry as { offload?: { mode?: string } }).offload?.mode;
    if (offload === 'packet' || offload === 'crypto') {
      issues.push({
        path: `/sas/${i}/offload/mode`,
        message: `is '${offload}', which must be offloaded or fail: espresso process runs on the CPU only`,
      });
    }
  });
  return issues;
}

function processSa(entry: SaDocumentEntry, index: number): ProcessSa {
  const { keyFingerprint: _fingerprint, ...request } = entry;
  const { sad, esp } = splitRequest(request);
  const config = esp as SaConfig;
  const binding = sad.binding;
  return {
    name: sad.name ?? defaultSaName(config),
    config,
    index,
    group: binding?.group ?? null,
    resource: binding !== undefined && 'resource' in binding ? binding.resource : null,
    reqid: sad.reqid ?? null,
  };
}

function bindPolicy(
  policy: Policy,
  at: string,
  sas: readonly ProcessSa[],
  groups: ReadonlyMap<string, 'worker' | 'dscp'>,
  issues: ConfigIssue[],
): PolicySas | null {
  const template = policy.template;
  if (policy.action !== 'protect' || template === undefined || policy.direction === 'fwd') return null;
  const direction = policy.direction;
  const ofDirection = sas.filter((sa) => sa.config.direction === direction);
  const wrongMode = (sa: ProcessSa) => {
    if (sa.config.mode === template.mode) return false;
    issues.push({
      path: `${at}/mode`,
      message: `is '${template.mode}' but SA '${sa.name}' is '${sa.config.mode}'`,
    });
    return true;
  };
  const reference = template.sa;
  if (reference !== undefined && 'name' in reference) {
    const sa = sas.find((s) => s.name === reference.name);
    if (sa === undefined) {
      issues.push({ path: `${at}/sa/name`, message: `no SA named '${reference.name}' in this document` });
      return null;
    }
    if (sa.config.direction !== direction) {
      issues.push({
        path: `${at}/sa/name`,
        message: `SA '${sa.name}' is ${sa.config.direction}bound; a policy of direction ${direction} needs an ${direction}bound SA`,
      });
      return null;
    }
    return wrongMode(sa) ? null : { kind: 'sas', names: [sa.name] };
  }
  if (reference !== undefined) {
    const spiHex = `0x${reference.spi.toString(16).padStart(8, '0')}`;
    const matching = ofDirection.filter((sa) => spiOf(sa.config) === reference.spi);
    if (matching.length === 0) {
      issues.push({
        path: `${at}/sa/spi`,
        message: `no ${direction}bound SA with SPI ${spiHex} in this document`,
      });
      return null;
    }
    if (direction === 'out' && matching.length > 1) {
      issues.push({
        path: `${at}/sa/spi`,
        message: `${matching.length} outbound SAs have SPI ${spiHex}: name the one to use (template.sa.name)`,
      });
      return null;
    }
    return matching.some(wrongMode) ? null : { kind: 'sas', names: matching.map((sa) => sa.name) };
  }
  const groupName = template.saGroup;
  if (groupName !== undefined) {
    const resource = groups.get(groupName) ?? 'worker';
    const members = ofDirection.filter((sa) => sa.group === groupName);
    if (members.some(wrongMode)) return null;
    const byResource = new Map<number, string>();
    let fallback: string | null = null;
    for (const sa of members) {
      if (sa.resource === null) fallback = sa.name;
      else byResource.set(sa.resource, sa.name);
    }
    if (direction === 'out' && members.length === 0) {
      issues.push({ path: `${at}/saGroup`, message: `SA group '${groupName}' has no outbound SA` });
      return null;
    }
    if (direction === 'out' && resource === 'worker' && !byResource.has(0) && fallback === null) {
      issues.push({
        path: `${at}/saGroup`,
        message: `SA group '${groupName}' has no outbound SA for worker 0 (espresso process runs one) and no fallback SA`,
      });
      return null;
    }
    return { kind: 'group', resource, members: byResource, fallback, names: members.map((sa) => sa.name) };
  }
  const reqid = template.reqid;
  if (reqid !== undefined) {
    const matching = ofDirection.filter((sa) => sa.reqid === reqid);
    if (matching.length === 0) {
      issues.push({
        path: `${at}/reqid`,
        message: `no ${direction}bound SA with reqid ${reqid} in this document`,
      });
      return null;
    }
    if (matching.some(wrongMode)) return null;
    // Outbound the newest SA of the reqid serves, as after a rekey: the last one in the document.
    return {
      kind: 'sas',
      names: direction === 'out' ? [matching.at(-1)!.name] : matching.map((sa) => sa.name),
    };
  }
  if (direction === 'out') {
    issues.push({
      path: at,
      message:
        'names no SA (sa), SA group (saGroup) or reqid: espresso process has no IKE daemon to ask for one, so name the SA',
    });
    return null;
  }
  return {
    kind: 'mode',
    names: ofDirection.filter((sa) => sa.config.mode === template.mode).map((sa) => sa.name),
  };
}

function prefixed(prefix: string, errors: readonly ConfigIssue[]): ConfigIssue[] {
  return errors.map((e) => ({ path: `${prefix}${e.path}`, message: e.message }));
}
