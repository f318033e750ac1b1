import { compileSpd, SpdClassifier, type SpdSnapshot } from '@espresso/spd';
import { PolicyBindings } from './policy-bindings.ts';
import type { WorkerSaTable } from './worker-sa-table.ts';

/**
 * A worker's SPD: the classifier over the current snapshot (lookup tree and flow cache) and the
 * snapshot's protect policies bound to SA instances. Until io sends a snapshot the SPD is empty, so
 * every packet gets the default action (allow, as Linux XFRM does with no policy).
 */
export class SpdState {
  readonly classifier: SpdClassifier;
  readonly bindings = new PolicyBindings();

  constructor(cacheSlots: number) {
    this.classifier = new SpdClassifier(compileSpd([], 0), { cacheSlots });
  }

  get version(): number {
    return this.classifier.version;
  }

  install(snapshot: SpdSnapshot): void {
    this.classifier.install(snapshot);
  }

  rebind(sas: WorkerSaTable, worker: number): void {
    this.bindings.rebuild(this.classifier.snapshot, sas, worker);
  }
}
