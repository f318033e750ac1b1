import type { ConfigDocument, SaCreate, SaDocumentEntry } from '@espresso/api';
import {
  canonical,
  checkSpiRange,
  espSaAdapter,
  keyFingerprint,
  keyLengthsOf,
  MemoryHighWaterMarks,
  Sad,
  type SaGroupSpec,
  type SaInput,
  SpiAllocator,
  type SpiRange,
  type StoredSaConfig,
} from '@espresso/sad';
import { type AcquireSettings, compileSpd, type SpdConfig, validateSpdConfig } from '@espresso/spd';
import { ApiError } from '../errors.ts';
import type { ControlPlane, GroupSelectors } from './control-plane.ts';
import { refusal } from './error-mapping.ts';
import { prepareSa } from './sa-preparation.ts';

export interface ConfigChanges {
  readonly sas: { added: string[]; removed: string[]; replaced: string[]; kept: string[] };
  readonly saGroups: { added: string[]; removed: string[]; updated: string[] };
  readonly policies: number;
  readonly spdVersion: number;
}

/** Everything applying a document does, worked out (and checked) before anything changes. */
export interface ConfigPlan {
  readonly changes: ConfigChanges;
  /** SAs to install, keys decoded: owned by the plan until installed, zeroed if it is dropped. */
  readonly install: SaInput<StoredSaConfig>[];
  readonly remove: string[];
  readonly groupsToAdd: SaGroupSpec<GroupSelectors>[];
  readonly groupsToUpdate: SaGroupSpec<GroupSelectors>[];
  readonly groupsToRemove: string[];
  readonly spd: SpdConfig;
  readonly spi: { range: SpiRange; unusedTimeoutMs: number };
  readonly acquire: Partial<AcquireSettings>;
}

type Issue = { path: string; message: string };

/**
 * Checks a whole configuration document against itself (names, SPIs, groups, policy references, the
 * ESP and SPD validators) and against the running state (keys kept by fingerprint), and works out what
 * applying it changes. Throws an ApiError listing every field at fault; changes nothing.
 */
export function planConfig(cp: ControlPlane, doc: ConfigDocument): ConfigPlan {
  const issues: Issue[] = [];
  const inputs: SaInput<StoredSaConfig>[] = [];
  const dropInputs = () => {
    for (const input of inputs) {
      input.keys.encryptionKey.fill(0);
      input.keys.integrityKey.fill(0);
    }
  };
  try {
    const spi = spiSettings(cp, doc, issues);
    const staging = new Sad<StoredSaConfig, GroupSelectors>({
      adapter: espSaAdapter,
      spis: new SpiAllocator({ range: spi.range, unusedTimeoutMs: spi.unusedTimeoutMs, clock: cp.clock }),
      marks: new MemoryHighWaterMarks(new Uint8Array(32)),
      clock: cp.clock,
    });
    const groups = (doc.saGroups ?? []).map((g, i) => {
      const spec: SaGroupSpec<GroupSelectors> = {
        name: g.name,
        resource: g.resource,
        ...(g.selectors === undefined ? {} : { selectors: g.selectors }),
        ...(g.description === undefined ? {} : { description: g.description }),
      };
      collect(issues, `/saGroups/${i}`, () => staging.addGroup(spec));
      return spec;
    });
    (doc.sas ?? []).forEach((entry, i) => {
      const input = collect(issues, `/sas/${i}`, () => prepareEntry(cp, entry));
      if (input === undefined) return;
      inputs.push(input);
      collect(issues, `/sas/${i}`, () => staging.add(input));
    });
    const spd: SpdConfig = doc.spd ?? { policies: [] };
    checkSpd(spd, groups, issues);
    if (issues.length > 0) throw ApiError.fromIssues(422, 'invalid', issues);

    const changes: ConfigChanges = {
      sas: { added: [], removed: [], replaced: [], kept: [] },
      saGroups: { added: [], removed: [], updated: [] },
      policies: spd.policies.length,
      spdVersion: cp.spd.version,
    };
    const install: SaInput<StoredSaConfig>[] = [];
    const remove: string[] = [];
    const wanted = new Set(inputs.map((input) => input.name));
    for (const sa of cp.sad.list()) {
      if (!wanted.has(sa.name)) {
        changes.sas.removed.push(sa.name);
        remove.push(sa.name);
      }
    }
    for (const input of inputs) {
      const live = cp.sad.get(input.name);
      if (live === undefined) {
        changes.sas.added.push(input.name);
        install.push(input);
      } else if (sameSa(live, input)) {
        changes.sas.kept.push(input.name);
        input.keys.encryptionKey.fill(0);
        input.keys.integrityKey.fill(0);
      } else {
        changes.sas.replaced.push(input.name);
        remove.push(input.name);
        install.push(input);
      }
    }
    const groupsToAdd: SaGroupSpec<GroupSelectors>[] = [];
    const groupsToUpdate: SaGroupSpec<GroupSelectors>[] = [];
    const groupNames = new Set(groups.map((g) => g.name));
    const groupsToRemove = cp.sad
      .groups()
      .map((g) => g.spec.name)
      .filter((name) => !groupNames.has(name));
    changes.saGroups.removed.push(...groupsToRemove);
    for (const spec of groups) {
      const live = cp.sad.group(spec.name);
      if (live === undefined) {
        groupsToAdd.push(spec);
        changes.saGroups.added.push(spec.name);
      } else if (canonical(live.spec) !== canonical(spec)) {
        groupsToUpdate.push(spec);
        changes.saGroups.updated.push(spec.name);
      }
    }
    return {
      changes,
      install,
      remove,
      groupsToAdd,
      groupsToUpdate,
      groupsToRemove,
      spd,
      spi,
      acquire: spd.acquire ?? {},
    };
  } catch (error) {
    dropInputs();
    throw error;
  }
}

/** Zeroes the keys a plan holds for SAs it did not install. */
export function dropPlan(plan: ConfigPlan): void {
  for (const input of plan.install) {
    input.keys.encryptionKey.fill(0);
    input.keys.integrityKey.fill(0);
  }
}

function collect<T>(issues: Issue[], prefix: string, task: () => T): T | undefined {
  try {
    return task();
  } catch (error) {
    const refused = refusal(error);
    for (const issue of refused.issues)
      issues.push({ path: `${prefix}${issue.path}`, message: issue.message });
    if (refused.issues.length === 0) issues.push({ path: prefix, message: refused.message });
    return undefined;
  }
}

function spiSettings(cp: ControlPlane, doc: ConfigDocument, issues: Issue[]) {
  const current = cp.sad.spis;
  const range = { min: doc.spi?.min ?? current.range.min, max: doc.spi?.max ?? current.range.max };
  collect(issues, '/spi', () => checkSpiRange(range));
  return { range, unusedTimeoutMs: doc.spi?.unusedTimeoutMs ?? current.unusedTimeoutMs };
}

/**
 * An SA entry of a document as SAD input. Keys come with the entry, or are those of the running SA of
 * the same name when the entry gives their fingerprint instead (what GET /v1/config returns).
 */
function prepareEntry(cp: ControlPlane, entry: SaDocumentEntry): SaInput<StoredSaConfig> {
  const { keyFingerprint: fingerprint, ...rest } = entry;
  const hasKey = rest.encryption.key !== undefined;
  if (hasKey && fingerprint !== undefined) {
    throw ApiError.fromIssues(422, 'invalid', [
      { path: '/keyFingerprint', message: 'give keys or a fingerprint, not both' },
    ]);
  }
  if (hasKey) return prepareSa(rest as SaCreate);
  if (fingerprint === undefined) {
    throw ApiError.fromIssues(422, 'invalid', [
      {
        path: '/encryption/key',
        message: 'is required (or keyFingerprint, to keep the keys of the running SA of this name)',
      },
    ]);
  }
  const live = cp.sad.get(entry.name);
  if (live === undefined || live.fingerprint !== fingerprint) {
    throw ApiError.fromIssues(422, 'invalid', [
      { path: '/keyFingerprint', message: `matches no running SA named '${entry.name}'` },
    ]);
  }
  // Placeholders of the running keys' lengths let the ESP validator check the entry; the keys
  // themselves are copied from the running SA, never turned into text.
  const lengths = { encryption: live.keys.encryptionKey.length, integrity: live.keys.integrityKey.length };
  const withPlaceholders = {
    ...rest,
    encryption: { ...rest.encryption, key: '00'.repeat(lengths.encryption) },
    ...(rest.integrity === undefined
      ? {}
      : {
          integrity:
            lengths.integrity === 0
              ? { algorithm: rest.integrity.algorithm }
              : { algorithm: rest.integrity.algorithm, key: '00'.repeat(lengths.integrity) },
        }),
  } as SaCreate;
  const input = prepareSa(withPlaceholders);
  input.keys.encryptionKey.set(live.keys.encryptionKey);
  input.keys.integrityKey.set(live.keys.integrityKey);
  const expected = keyLengthsOf(input.config);
  if (expected.encryption !== lengths.encryption || expected.integrity !== lengths.integrity) {
    throw ApiError.fromIssues(422, 'invalid', [
      { path: '/keyFingerprint', message: 'the kept keys do not fit the algorithm' },
    ]);
  }
  return input;
}

function sameSa(
  live: NonNullable<ReturnType<ControlPlane['sad']['get']>>,
  input: SaInput<StoredSaConfig>,
): boolean {
  return (
    espSaAdapter.equal(live.config, input.config) &&
    live.fingerprint === keyFingerprint([input.keys.encryptionKey, input.keys.integrityKey]) &&
    live.reqid === (input.reqid ?? null) &&
    canonical(live.binding) === canonical(input.binding ?? null)
  );
}

function checkSpd(spd: SpdConfig, groups: readonly SaGroupSpec<GroupSelectors>[], issues: Issue[]): void {
  const result = validateSpdConfig(spd);
  if (!result.ok) {
    for (const e of result.errors) issues.push({ path: `/spd${e.path}`, message: e.message });
    return;
  }
  const names = new Set(groups.map((g) => g.name));
  spd.policies.forEach((p, i) => {
    const group = p.template?.saGroup;
    if (group !== undefined && !names.has(group)) {
      issues.push({
        path: `/spd/policies/${i}/template/saGroup`,
        message: `no SA group named '${group}' in this document`,
      });
    }
  });
  collect(issues, '/spd', () => compileSpd(result.value.policies, 0, { defaults: result.value.defaults }));
}
