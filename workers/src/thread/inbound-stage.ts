import { DropReason } from '@espresso/counters';
import { createPacketVector, EspInbound, type PacketVector, setPacket, VERDICT_FORWARD } from '@espresso/esp';
import { Direction, Verdict } from '@espresso/spd';
import { createFlowKey, extractFlowKey, WIRE_OK } from '@espresso/wire';
import type { SaRoute } from './sa-route.ts';
import type { SpdState } from './spd-state.ts';
import { TxBatch } from './tx-batch.ts';
import type { WorkerContext } from './worker-context.ts';
import type { WorkerSaTable } from './worker-sa-table.ts';

const SLOT_MASK = 0x00ff_ffff;

/**
 * The inbound half of a worker's batch. io steered these ESP packets here by SPI, so every SA they name
 * is owned by this worker. ESP does the two passes (replay check, one open per SA group, replay commit
 * for what verified, decapsulation); then each inner packet must match an inbound protect policy whose
 * template names the SA it came through (or the default must allow it). The replay tops are published
 * before the inner packets reach the tx ring, so a resumed SA never accepts a packet that was
 * delivered. Every drop is counted with its reason.
 */
export class InboundStage {
  private readonly ctx: WorkerContext;
  private readonly spd: SpdState;
  private readonly sas: WorkerSaTable;
  private readonly esp: EspInbound;
  private readonly vector: PacketVector;
  private readonly key = createFlowKey();
  private readonly batchIndex: Uint16Array;
  private readonly reason: Int16Array;
  private readonly touched: (SaRoute | null)[];
  private readonly tx: TxBatch;
  private epoch = 0;

  constructor(ctx: WorkerContext, spd: SpdState, sas: WorkerSaTable) {
    const n = ctx.settings.budget;
    this.ctx = ctx;
    this.spd = spd;
    this.sas = sas;
    this.esp = new EspInbound({ capacity: n, table: sas.inbound });
    this.vector = createPacketVector(ctx.bytes, n);
    this.batchIndex = new Uint16Array(n);
    this.reason = new Int16Array(n);
    this.touched = new Array<SaRoute | null>(n).fill(null);
    this.tx = new TxBatch(ctx, ctx.txInside, n);
  }

  process(descs: Uint32Array, n: number, now: number): void {
    const ctx = this.ctx;
    const slotSize = ctx.pool.slotSize;
    const v = this.vector;
    let k = 0;
    let rxBytes = 0;
    for (let i = 0; i < n; i++) {
      const word1 = descs[(i << 1) + 1]!;
      const offset = word1 >>> 16;
      const length = word1 & 0xffff;
      rxBytes += length;
      this.reason[i] = -1;
      if (offset + length > slotSize) {
        this.reason[i] = DropReason.badDescriptor;
        continue;
      }
      const start = (descs[i << 1]! & SLOT_MASK) * slotSize;
      setPacket(v, k, start + offset, length, start, start + slotSize);
      this.batchIndex[k++] = i;
    }
    ctx.counters.rx(n, rxBytes);
    v.count = k;
    if (k > 0) this.esp.decapsulate(v, 0, k, now, 0);

    const epoch = ++this.epoch;
    let touched = 0;
    const bySlot = this.sas.bySlot;
    for (let j = 0; j < k; j++) {
      const i = this.batchIndex[j]!;
      const verdict = v.verdict[j]!;
      if (verdict !== VERDICT_FORWARD) {
        this.reason[i] = verdict;
        continue;
      }
      const route = bySlot[v.sa[j]!] ?? null;
      const reason = route === null ? DropReason.noState : this.policyCheck(v, j, route);
      if (reason !== VERDICT_FORWARD) {
        this.reason[i] = reason;
        continue;
      }
      const start = (descs[i << 1]! & SLOT_MASK) * slotSize;
      descs[(i << 1) + 1] = (((v.offset[j]! - start) << 16) | v.length[j]!) >>> 0;
      if (route!.batchEpoch !== epoch) {
        route!.batchEpoch = epoch;
        this.touched[touched++] = route;
      }
    }
    for (let t = 0; t < touched; t++) {
      this.sas.publishProgress(this.touched[t]!);
      this.touched[t] = null;
    }

    const tx = this.tx;
    for (let i = 0; i < n; i++) {
      const reason = this.reason[i]!;
      if (reason < 0) tx.add(descs, i);
      else {
        ctx.counters.drop(reason as DropReason, descs[(i << 1) + 1]! & 0xffff);
        ctx.pool.free(descs[i << 1]! & SLOT_MASK);
      }
    }
    tx.flush(true);
  }

  /** RFC 4301 §5.2: the decrypted packet must be one the SA was negotiated for. */
  private policyCheck(v: PacketVector, j: number, route: SaRoute): number {
    const key = this.key;
    const parsed = extractFlowKey(v.buffer, v.offset[j]!, v.length[j]!, key);
    if (parsed !== WIRE_OK) return parsed;
    const classifier = this.spd.classifier;
    const entry = classifier.classify(key, Direction.in, 0, 0);
    const verdict = classifier.verdict(entry, Direction.in);
    if (verdict === Verdict.defaultAllow) return VERDICT_FORWARD;
    if (verdict === Verdict.defaultDrop) return DropReason.noPolicy;
    if (verdict === Verdict.discard) return DropReason.policyBlock;
    // Bypass: traffic that arrived protected does not match a policy that expects it in the clear.
    if (verdict !== Verdict.protect) return DropReason.policyMismatch;
    const binding = this.spd.bindings.inbound[classifier.policyIndex(entry)] ?? null;
    return binding?.accepts(route) ? VERDICT_FORWARD : DropReason.policyMismatch;
  }
}
