import { type FieldError, SpdError, SpdErrorCode } from './errors.ts';
import { DEFAULT_ACTIONS, type DefaultActions, type Policy } from './policy.ts';
import type { SpdConfig } from './schema.ts';
import { type CompileOptions, compileSpd, type SpdSnapshot } from './snapshot.ts';
import { validateDefaultActions, validatePolicyConfig, validateSpdConfig } from './validate.ts';
import { policyToConfig } from './view.ts';

/**
 * The authoritative SPD as the control plane holds it: policies in the order they were added, the
 * default actions, and the compiled snapshot of the current state. Every change validates, then
 * compiles the new state, and only then commits it, so a refused change (bad input, an SPD too large
 * to decorrelate) leaves the store as it was. Each committed change gets the next version number.
 */
export class SpdStore {
  private policies: Policy[] = [];
  private defaults: DefaultActions = DEFAULT_ACTIONS;
  private compiled: SpdSnapshot;
  private readonly maxEntries: number | undefined;
  private nextId = 1;

  constructor(options: Pick<CompileOptions, 'maxEntries'> = {}) {
    this.maxEntries = options.maxEntries;
    this.compiled = this.compile(this.policies, this.defaults, 1);
  }

  get version(): number {
    return this.compiled.version;
  }

  snapshot(): SpdSnapshot {
    return this.compiled;
  }

  /** Policies in the ordered SPD (priority, then insertion). */
  list(): readonly Policy[] {
    return this.compiled.policies;
  }

  get(id: string): Policy | undefined {
    return this.policies.find((p) => p.id === id);
  }

  getDefaults(): DefaultActions {
    return this.defaults;
  }

  /** Adds a policy from API input; assigns "policy-<n>" when the input has no id. */
  add(input: unknown): Policy {
    const result = validatePolicyConfig(input, { id: this.freshId() });
    if (!result.ok) throw new SpdError(SpdErrorCode.invalid, result.errors);
    const policy = result.value;
    if (this.get(policy.id) !== undefined) {
      throw new SpdError(SpdErrorCode.conflict, [
        { path: '/id', message: `policy "${policy.id}" exists already` },
      ]);
    }
    this.commit([...this.policies, policy], this.defaults);
    return policy;
  }

  /** Replaces policy `id` in place (it keeps its position among equal priorities). */
  update(id: string, input: unknown): Policy {
    const index = this.policies.findIndex((p) => p.id === id);
    if (index < 0) throw notFound(id);
    const result = validatePolicyConfig(input, { id });
    if (!result.ok) throw new SpdError(SpdErrorCode.invalid, result.errors);
    if (result.value.id !== id) {
      throw new SpdError(SpdErrorCode.invalid, [
        { path: '/id', message: `must be "${id}" (the policy updated)` },
      ]);
    }
    const next = [...this.policies];
    next[index] = result.value;
    this.commit(next, this.defaults);
    return result.value;
  }

  remove(id: string): Policy {
    const policy = this.get(id);
    if (policy === undefined) throw notFound(id);
    this.commit(
      this.policies.filter((p) => p !== policy),
      this.defaults,
    );
    return policy;
  }

  setDefaults(input: unknown): DefaultActions {
    const result = validateDefaultActions({ ...this.defaults, ...(input as object) });
    if (typeof input !== 'object' || input === null || !result.ok) {
      const errors: FieldError[] = result.ok ? [{ path: '', message: 'must be an object' }] : result.errors;
      throw new SpdError(SpdErrorCode.invalid, errors);
    }
    this.commit(this.policies, result.value);
    return result.value;
  }

  /** Replaces the whole SPD with a configuration: all of it applies, or none of it. */
  apply(input: unknown): SpdSnapshot {
    const result = validateSpdConfig(input);
    if (!result.ok) throw new SpdError(SpdErrorCode.invalid, result.errors);
    this.commit([...result.value.policies], result.value.defaults);
    return this.compiled;
  }

  /** The current state as a configuration apply() accepts. */
  toConfig(): SpdConfig {
    return {
      defaults: { ...this.defaults },
      policies: this.policies.map(policyToConfig),
    };
  }

  private commit(policies: Policy[], defaults: DefaultActions): void {
    this.compiled = this.compile(policies, defaults, this.compiled.version + 1);
    this.policies = policies;
    this.defaults = defaults;
  }

  private compile(policies: readonly Policy[], defaults: DefaultActions, version: number): SpdSnapshot {
    return compileSpd(policies, version, {
      defaults,
      ...(this.maxEntries !== undefined ? { maxEntries: this.maxEntries } : {}),
    });
  }

  private freshId(): string {
    while (this.get(`policy-${this.nextId}`) !== undefined) this.nextId++;
    return `policy-${this.nextId}`;
  }
}

function notFound(id: string): SpdError {
  return new SpdError(SpdErrorCode.notFound, [{ path: '', message: `no policy "${id}"` }]);
}
