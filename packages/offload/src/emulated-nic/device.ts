import { Doorbell, IdleWaiter, PacketPool, SpscRing } from '@espresso/ring';
import type { StoredSaConfig } from '@espresso/sad';
import type { Policy } from '@espresso/spd';
import type { FragmentPolicy } from '../capabilities.ts';
import type { OffloadErrorCode } from '../result.ts';
import { type DeviceDomain, type DeviceSa, DeviceSad } from './device-sad.ts';
import { DeviceTraffic } from './device-traffic.ts';
import { DeviceStat, type EmulatorStorage, type MailboxStorage } from './layout.ts';
import {
  type Command,
  EventType,
  eventWord,
  formatMac,
  Op,
  type Reply,
  readCommand,
  slotView,
  writeReply,
} from './mailbox.ts';

/** How the emulated NIC behaves: the knobs tests turn to make it refuse or stop. */
export interface EmulatorOptions {
  readonly enforcesLifetimes: boolean;
  readonly maxReplayWindow: number;
  readonly maxPolicies: number;
  readonly fragments: FragmentPolicy;
}

interface Mailbox {
  readonly storage: MailboxStorage;
  readonly requests: SpscRing;
  readonly responses: SpscRing;
  /** null for the PF; the VF number for a VF's mailbox. */
  readonly vf: number | null;
}

const refused = (error: OffloadErrorCode, message: string): Reply => ({
  error,
  handle: 0,
  json: { message },
});
const answered = (handle: number, json?: unknown): Reply => ({ error: null, handle, json });

/**
 * The device side of the emulated NIC (it runs in its own thread, see emulator-thread.ts): the PF and
 * VF mailboxes, the SAD, the packet path and the device events. A VF's mailbox speaks for that VF only:
 * the device knows which mailbox a command came through, so a command that claims another VF's domain
 * is forged, and one from an untrusted domain is refused; neither reaches the SAD.
 */
export class EmulatedNicDevice {
  readonly sad: DeviceSad;
  readonly traffic: DeviceTraffic;
  readonly #stats: Float64Array;
  readonly #mailboxes: Mailbox[];
  readonly #events: SpscRing;
  readonly #event = new Uint32Array(2);
  readonly #slots = new Uint32Array(64);
  readonly #control: Int32Array;
  readonly #waiter: IdleWaiter;

  constructor(storage: EmulatorStorage, options: EmulatorOptions) {
    this.#stats = new Float64Array(storage.device);
    this.#events = new SpscRing(storage.events);
    this.#control = new Int32Array(storage.control);
    const now = () => Date.now() / 1000;
    this.sad = new DeviceSad(storage, {
      enforcesLifetimes: options.enforcesLifetimes,
      maxReplayWindow: options.maxReplayWindow,
      maxPolicies: options.maxPolicies,
      event: (type, detail, generation, handle) => this.#pushEvent(type, detail, generation, handle),
      now,
    });
    const rings = {
      hostTx: new SpscRing(storage.rings.hostTx),
      wireOut: new SpscRing(storage.rings.wireOut),
      wireIn: new SpscRing(storage.rings.wireIn),
      hostRx: new SpscRing(storage.rings.hostRx),
    };
    this.traffic = new DeviceTraffic(
      new PacketPool(storage.pool, 1),
      rings,
      this.sad,
      this.#stats,
      options.fragments,
      now,
    );
    const mailbox = (m: MailboxStorage, vf: number | null): Mailbox => ({
      storage: m,
      requests: new SpscRing(m.requests),
      responses: new SpscRing(m.responses),
      vf,
    });
    this.#mailboxes = [mailbox(storage.pf, null), ...storage.vfs.map((m, vf) => mailbox(m, vf))];
    this.#waiter = new IdleWaiter(
      new Doorbell(storage.deviceDoorbell),
      [rings.hostTx, rings.wireIn, ...this.#mailboxes.map((m) => m.requests)],
      { spinPolls: 256, sleepMs: 50 },
    );
  }

  /** The thread's loop: poll, sleep on the doorbell when idle, stop when the host asks. */
  run(): void {
    while (Atomics.load(this.#control, 0) === 0) {
      if (this.poll() === 0) this.#waiter.wait();
    }
    this.sad.close();
  }

  poll(): number {
    let work = this.traffic.poll();
    for (const mailbox of this.#mailboxes) work += this.#serve(mailbox);
    return work;
  }

  #serve(mailbox: Mailbox): number {
    const n = mailbox.requests.pop(this.#slots, this.#slots.length);
    for (let i = 0; i < n; i++) {
      // An index past the mailbox (a requester's garbage) is clamped into it: the device never reads
      // or writes outside the requester's own slots.
      const slot = Math.min(this.#slots[i]!, mailbox.storage.slots - 1);
      this.#slots[i] = slot;
      const bytes = slotView(mailbox.storage.buffer, slot);
      const command = readCommand(bytes);
      this.#stats[DeviceStat.commands]!++;
      const reply =
        command === null ? refused('invalid', 'malformed command') : this.#handle(command, mailbox.vf);
      writeReply(bytes, reply);
    }
    // One push for the batch: the requester's doorbell rings once, not once per answer.
    if (n > 0) mailbox.responses.push(this.#slots, n);
    return n;
  }

  #handle(command: Command, vf: number | null): Reply {
    const mac = formatMac(command.domain.mac);
    const claimed = this.sad.domain(command.domain.vf, command.domain.vlan, mac);
    switch (command.op) {
      case Op.nop:
        return answered(0, { sas: this.sad.size, policies: this.sad.policyCount });
      case Op.flush:
        while (this.traffic.pending()) this.traffic.poll();
        return answered(0);
      case Op.addDomain: {
        if (vf !== null) return this.#untrusted('only the PF configures domains');
        const json = command.json as { trusted?: unknown } | undefined;
        const added = this.sad.addDomain(command.domain.vf, command.domain.vlan, mac, json?.trusted === true);
        return added.ok ? answered(added.value.id) : refused(added.code, added.message);
      }
      case Op.removeDomain: {
        if (vf !== null) return this.#untrusted('only the PF configures domains');
        if (claimed === undefined) return refused('domain', 'no such domain');
        this.#flush(claimed);
        return answered(claimed.id);
      }
      case Op.reset: {
        const target = vf ?? command.domain.vf;
        let flushed = 0;
        for (const domain of this.sad.domainsOfVf(target)) flushed += this.#flushSas(domain);
        return answered(0, { flushed });
      }
      default:
        break;
    }
    const denied = this.#authorize(claimed, command.domain.vf, vf);
    if (denied !== null) return denied;
    const domain = claimed as DeviceDomain;
    switch (command.op) {
      case Op.addSa:
        return this.#addSa(domain, command);
      case Op.deleteSa: {
        const sa = this.#owned(domain, command.handle);
        if (sa === null) return refused('not-found', `no SA ${command.handle} in this domain`);
        this.sad.delete(sa);
        this.#stats[DeviceStat.saRemoves]!++;
        return answered(sa.handle, { generation: sa.generation });
      }
      case Op.updateSa: {
        const sa = this.#owned(domain, command.handle);
        if (sa === null) return refused('not-found', `no SA ${command.handle} in this domain`);
        const json = command.json as {
          config: StoredSaConfig;
          migration?: Parameters<DeviceSad['update']>[2];
        };
        const updated = this.sad.update(sa, json.config, json.migration);
        return updated.ok ? answered(sa.handle) : refused(updated.code, updated.message);
      }
      case Op.addPolicy: {
        const json = command.json as { policy: Policy };
        const sa = this.#owned(domain, command.handle);
        if (sa === null) return refused('not-found', `no SA ${command.handle} in this domain`);
        const added = this.sad.addPolicy(domain, json.policy, sa.handle);
        if (added.ok) this.#stats[DeviceStat.policyAdds]!++;
        return added.ok ? answered(sa.handle) : refused(added.code, added.message);
      }
      case Op.deletePolicy: {
        const json = command.json as { id: string };
        const removed = this.sad.deletePolicy(domain, json.id);
        if (removed.ok) this.#stats[DeviceStat.policyRemoves]!++;
        return removed.ok ? answered(0) : refused(removed.code, removed.message);
      }
      default:
        return refused('unsupported', `operation ${command.op} is not supported`);
    }
  }

  /**
   * The PF acts for any domain it configured. A VF acts only for its own domains, and only when the
   * domain is trusted: anything else is refused before the SAD sees it, and counted.
   */
  #authorize(claimed: DeviceDomain | undefined, claimedVf: number, vf: number | null): Reply | null {
    if (vf !== null && claimedVf !== vf) return this.#untrusted(`VF ${vf} claimed to be VF ${claimedVf}`);
    if (claimed === undefined) return refused('domain', 'no such domain on the device');
    if (vf !== null && !claimed.trusted) return this.#untrusted(`VF ${vf}'s domain is not trusted`);
    return null;
  }

  #untrusted(message: string): Reply {
    this.#stats[DeviceStat.refusedUntrusted]!++;
    return refused('untrusted', message);
  }

  #addSa(domain: DeviceDomain, command: Command): Reply {
    const json = command.json as { config?: StoredSaConfig } | undefined;
    if (json?.config === undefined) return refused('invalid', 'no SA configuration');
    const added = this.sad.add(
      domain,
      json.config,
      command.encryptionKey ?? new Uint8Array(0),
      command.integrityKey ?? new Uint8Array(0),
    );
    if (!added.ok) {
      this.#stats[added.code === 'capacity' ? DeviceStat.refusedCapacity : DeviceStat.refusedOther]!++;
      return refused(added.code, added.message);
    }
    this.#stats[DeviceStat.saAdds]!++;
    return answered(added.value.handle, { generation: added.value.generation });
  }

  #owned(domain: DeviceDomain, handle: number): DeviceSa | null {
    const sa = this.sad.get(handle);
    return sa !== null && sa.domain === domain ? sa : null;
  }

  #flush(domain: DeviceDomain): void {
    this.#stats[DeviceStat.domainFlushes]!++;
    this.#stats[DeviceStat.sasFlushed]! += this.sad.removeDomain(domain);
  }

  /** A VF reset: the SAs its domains own go (reported lost); the domains stay configured. */
  #flushSas(domain: DeviceDomain): number {
    let n = 0;
    for (const handle of [...domain.owned]) {
      const sa = this.sad.get(handle);
      if (sa === null) continue;
      this.sad.delete(sa);
      this.#pushEvent(EventType.saLost, 1, sa.generation, handle);
      n++;
    }
    this.#stats[DeviceStat.sasFlushed]! += n;
    return n;
  }

  #pushEvent(type: number, detail: number, generation: number, handle: number): void {
    this.#event[0] = eventWord(type, detail, generation);
    this.#event[1] = handle;
    if (this.#events.push(this.#event, 1) === 1) this.#stats[DeviceStat.events]!++;
    else this.#stats[DeviceStat.eventsLost]!++;
  }
}
