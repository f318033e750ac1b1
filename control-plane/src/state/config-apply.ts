import type { ConfigDocument, SaBinding } from '@espresso/api';
import type { SaGroupSpec, SaInput, StoredSaConfig } from '@espresso/sad';
import { AcquireTable } from '@espresso/spd';
import { ApiError } from '../errors.ts';
import { type ConfigChanges, dropPlan, planConfig } from './config-plan.ts';
import type { ControlPlane, GroupSelectors } from './control-plane.ts';
import { offloadRefusal } from './error-mapping.ts';

/** What POST /v1/config/validate answers: the changes, nothing applied. */
export function validateConfig(cp: ControlPlane, doc: ConfigDocument): ConfigChanges {
  const plan = planConfig(cp, doc);
  dropPlan(plan);
  return plan.changes;
}

interface Backup {
  readonly input: SaInput<StoredSaConfig>;
}

/**
 * Applies a whole configuration: removes the SAs it no longer has (or changes), updates groups, SPI
 * settings and the SPD, installs the new SAs. If the datapath refuses any step, everything done so far
 * is undone (removed SAs are put back from key copies held only for the duration) and the error is
 * returned: the configuration applies entirely or not at all.
 */
export function applyConfig(cp: ControlPlane, doc: ConfigDocument): Promise<ConfigChanges> {
  return cp.serial(async () => {
    const plan = planConfig(cp, doc);
    const backups: Backup[] = plan.remove.map((name) => backupOf(cp, name));
    const previousGroups = cp.sad.groups().map((g) => g.spec);
    const previousSpd = cp.spd.toConfig();
    const previousSpi = { range: cp.sad.spis.range, unusedTimeoutMs: cp.sad.spis.unusedTimeoutMs };
    const installed: string[] = [];
    let step = 'remove';
    try {
      for (const name of plan.remove) await cp.removeSa(name, 'config');
      step = 'groups';
      for (const name of plan.groupsToRemove) cp.sad.removeGroup(name);
      for (const spec of plan.groupsToUpdate) cp.sad.updateGroup(spec);
      for (const spec of plan.groupsToAdd) cp.sad.addGroup(spec);
      cp.sad.spis.configure(plan.spi.range, plan.spi.unusedTimeoutMs);
      step = 'install';
      for (const input of plan.install) {
        try {
          await cp.installSa(input);
        } catch (error) {
          throw offloadRefusal(error, `/sas/${doc.sas?.findIndex((sa) => sa.name === input.name)}`) ?? error;
        }
        installed.push(input.name);
      }
      step = 'spd';
      cp.spd.apply(plan.spd);
      await cp.pushSpd(previousSpd);
    } catch (error) {
      for (const name of installed.reverse()) await cp.removeSa(name, 'config').catch(() => undefined);
      dropPlan({ ...plan, install: plan.install.filter((input) => !installed.includes(input.name)) });
      restoreGroups(cp, previousGroups);
      cp.sad.spis.configure(previousSpi.range, previousSpi.unusedTimeoutMs);
      for (const backup of backups) {
        if (cp.sad.get(backup.input.name) === undefined) {
          await cp.installSa(backup.input).catch(() => zero(backup.input));
        } else {
          zero(backup.input);
        }
      }
      throw error instanceof ApiError
        ? new ApiError(
            error.status,
            error.code,
            `configuration not applied (${step}): ${error.message}`,
            error.issues,
          )
        : error;
    }
    for (const backup of backups) zero(backup.input);
    if (
      JSON.stringify(cp.acquires.settings) !== JSON.stringify({ ...cp.acquires.settings, ...plan.acquire })
    ) {
      cp.acquires = new AcquireTable({ ...cp.acquires.settings, ...plan.acquire });
    }
    const changes = { ...plan.changes, spdVersion: cp.spd.version };
    for (const name of changes.saGroups.added) cp.publish('sa-group-added', { group: name });
    for (const name of changes.saGroups.updated) cp.publish('sa-group-updated', { group: name });
    for (const name of changes.saGroups.removed) cp.publish('sa-group-deleted', { group: name });
    cp.publish('config-applied', { changes });
    return changes;
  });
}

/** A copy of an SA's input, keys included, to put it back if the apply fails. */
function backupOf(cp: ControlPlane, name: string): Backup {
  const sa = cp.sad.require(name);
  const binding: SaBinding | undefined = sa.binding ?? undefined;
  return {
    input: {
      name,
      config: sa.config,
      keys: {
        encryptionKey: Uint8Array.from(sa.keys.encryptionKey),
        integrityKey: Uint8Array.from(sa.keys.integrityKey),
      },
      ...(sa.reqid === null ? {} : { reqid: sa.reqid }),
      ...(binding === undefined ? {} : { binding }),
    },
  };
}

function restoreGroups(cp: ControlPlane, previous: readonly SaGroupSpec<GroupSelectors>[]): void {
  const wanted = new Map(previous.map((spec) => [spec.name, spec]));
  for (const group of cp.sad.groups()) {
    if (!wanted.has(group.spec.name) && group.members.size === 0) cp.sad.removeGroup(group.spec.name);
  }
  for (const spec of previous) {
    if (cp.sad.group(spec.name) === undefined) cp.sad.addGroup(spec);
    else cp.sad.updateGroup(spec);
  }
}

function zero(input: SaInput<StoredSaConfig>): void {
  input.keys.encryptionKey.fill(0);
  input.keys.integrityKey.fill(0);
}
