import type {
  DatapathAck,
  DatapathEvent,
  DatapathStats,
  PolicyCounters,
  SaCounters,
  SaInstallMessage,
  SaRemoved,
  SaRemoveMessage,
  SaUpdateMessage,
  SpdSnapshotMessage,
  StoredSaConfig,
} from '@espresso/sad';
import type { SpdSnapshot } from '@espresso/spd';
import type { InProcessDatapath } from '../datapath/in-process-datapath.ts';
import type { ControlPlaneDatapath } from '../state/control-plane.ts';

/**
 * A datapath that passes everything to an in-process one, except that it can be told to refuse one SA
 * install after a number of them, or SPD snapshots: the faults of a worker that missed a message.
 */
export class FaultyDatapath implements ControlPlaneDatapath {
  readonly name = 'faulty';
  readonly #inner: InProcessDatapath;
  /** Installs still accepted before one is refused (then all are accepted again); Infinity never refuses. */
  installsLeft = Number.POSITIVE_INFINITY;
  refuseSpd = false;

  constructor(inner: InProcessDatapath) {
    this.#inner = inner;
  }

  get workers(): number {
    return this.#inner.workers;
  }

  install(message: SaInstallMessage<StoredSaConfig>): Promise<DatapathAck> {
    if (this.installsLeft <= 0) {
      this.installsLeft = Number.POSITIVE_INFINITY;
      return Promise.reject(new Error('a worker did not acknowledge'));
    }
    this.installsLeft--;
    return this.#inner.install(message);
  }

  update(message: SaUpdateMessage<StoredSaConfig>): Promise<DatapathAck> {
    return this.#inner.update(message);
  }

  remove(message: SaRemoveMessage): Promise<SaRemoved> {
    return this.#inner.remove(message);
  }

  applySpd(message: SpdSnapshotMessage<SpdSnapshot>): Promise<DatapathAck> {
    if (this.refuseSpd) return Promise.reject(new Error('a worker did not take the SPD'));
    return this.#inner.applySpd(message);
  }

  saCounters(name: string): SaCounters | undefined {
    return this.#inner.saCounters(name);
  }

  policyCounters(id: string): PolicyCounters | undefined {
    return this.#inner.policyCounters(id);
  }

  stats(): DatapathStats {
    return this.#inner.stats();
  }

  onEvent(listener: (event: DatapathEvent) => void): () => void {
    return this.#inner.onEvent(listener);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
