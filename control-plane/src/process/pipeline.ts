import { closeSync, createWriteStream, openSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { type PacketVector, VERDICT_FORWARD } from '@espresso/esp';
import {
  type CaptureRecord,
  type CaptureWriter,
  LinkType,
  type PacketToWrite,
  PcapFormatError,
  PcapngWriter,
  PcapWriter,
  readCapture,
} from '@espresso/pcap';
import { systemReason } from '../config/config-file.ts';
import { InboundStage } from './inbound-stage.ts';
import type { MadePackets } from './made-packets.ts';
import { OutboundStage } from './outbound-stage.ts';
import type { ProcessConfig } from './process-config.ts';
import { ProcessDatapath, type ProcessDatapathOptions } from './process-datapath.ts';
import { type ProcessSide, type ProcessStats, processStats } from './process-stats.ts';
import { SlotBatch } from './slot-batch.ts';

export type CaptureFormat = 'pcap' | 'pcapng';

export interface ProcessCaptureOptions {
  readonly config: ProcessConfig;
  readonly from: ProcessSide;
  readonly input: string;
  readonly output: string;
  /** Output format; default pcapng when the output name ends in .pcapng, else pcap. */
  readonly format?: CaptureFormat;
  /** Packets per batch; default 128. */
  readonly batchSize?: number;
  readonly datapath?: ProcessDatapathOptions;
}

/** A batch goes through one of these: the datapath work, free of I/O, so it can move to a worker. */
export interface BatchStage {
  process(v: PacketVector, now: number): void;
  /**
   * Packets the SAs' modes made (IP-TFS) during `process` or `poll`, beside the batch's own: each goes
   * out after the batch packet `made.after[k]`, or where the poll happened (-1). Cleared by the caller
   * once written.
   */
  readonly made: MadePackets;
  /**
   * Runs the clocked SAs' modes at `now` (`drain`: the input ended, send and give up everything).
   * Returns true when it stopped because `made` is full: write it, clear it, call again.
   */
  poll(now: number, drain: boolean): boolean;
}

export function createStage(dp: ProcessDatapath, from: ProcessSide, capacity: number): BatchStage {
  return from === 'inside' ? new OutboundStage(dp, capacity) : new InboundStage(dp, capacity);
}

/** The input capture could not be read: missing, unreadable, or corrupt (`offset` names the record). */
export class CaptureInputError extends Error {
  override readonly name = 'CaptureInputError';
  readonly offset: number | null;
  constructor(message: string, offset: number | null = null) {
    super(message);
    this.offset = offset;
  }
}

/** The output capture could not be written. */
export class CaptureOutputError extends Error {
  override readonly name = 'CaptureOutputError';
}

export const defaultBatchSize = 128;

export function formatForPath(path: string): CaptureFormat {
  return path.toLowerCase().endsWith('.pcapng') ? 'pcapng' : 'pcap';
}

/** Where the output is written until the run succeeds; renamed to the output name then, removed otherwise. */
export function partialPath(output: string): string {
  return `${output}.partial`;
}

/**
 * Runs a capture through the datapath: records are read in batches, each IP packet is copied into a
 * slot of the batch buffer (after the headroom), the batch goes through the stage for its side, and the
 * packets that go on are written, in input order, as raw IP (pcap link type 101, or a pcapng interface
 * of that type) with their input timestamps. Records that carry no IP packet are counted and skipped.
 *
 * The output is written to `<output>.partial` and renamed when everything succeeded; on any error it is
 * removed and the error thrown (CaptureInputError, CaptureOutputError). The SAs' keys are zeroed when the
 * run ends, whichever way.
 */
export async function processCapture(options: ProcessCaptureOptions): Promise<ProcessStats> {
  const capacity = options.batchSize ?? defaultBatchSize;
  const format = options.format ?? formatForPath(options.output);
  await checkInput(options.input);
  const dp = new ProcessDatapath(options.config, options.datapath);
  const partial = partialPath(options.output);
  let writer: CaptureWriter | null = null;
  try {
    writer = openOutput(partial, options.output, format);
    const stage = createStage(dp, options.from, capacity);
    const totals = await run(options.input, options.output, stage, capacity, writer);
    await guardOutput(options.output, () => writer!.close());
    writer = null;
    await guardOutput(options.output, () => rename(partial, options.output));
    return processStats(dp, options.from, totals, format);
  } catch (error) {
    if (writer !== null) await writer.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  } finally {
    dp.destroy();
  }
}

async function run(
  input: string,
  output: string,
  stage: BatchStage,
  capacity: number,
  writer: CaptureWriter,
): Promise<{ records: number; nonIp: number }> {
  const batch = new SlotBatch(capacity);
  const seconds = new Float64Array(capacity);
  const nanoseconds = new Uint32Array(capacity);
  const packet: PacketToWrite = { bytes: batch.buffer, offset: 0, length: 0, seconds: 0, nanoseconds: 0 };
  let records = 0;
  let nonIp = 0;
  let firstTime = Number.NaN;
  let lastSeconds = 0;
  let lastNanoseconds = 0;

  const made = stage.made;
  const madeOrder = new MadeOrder(made.vector.capacity, capacity);
  const write = async (bytes: Uint8Array, offset: number, length: number, s: number, ns: number) => {
    packet.bytes = bytes;
    packet.offset = offset;
    packet.length = length;
    packet.seconds = s;
    packet.nanoseconds = ns;
    try {
      await writer.write(packet);
    } catch (error) {
      throw outputError(output, error);
    }
  };
  /** Writes the made packets in order, those made by `poll` at time (s, ns), and clears them. */
  const writeMade = async (from: number, position: number, s: number, ns: number) => {
    const v = made.vector;
    for (let k = from; k < v.count; k++) {
      if (made.after[k] !== position || v.verdict[k] !== VERDICT_FORWARD) continue;
      await write(made.buffer, v.offset[k]!, v.length[k]!, s, ns);
    }
  };
  /** Polls the SAs' modes at record time (s, ns) and writes what they made there. */
  const poll = async (s: number, ns: number, drain: boolean) => {
    let more: boolean;
    do {
      more = stage.poll(s + ns / 1e9 - firstTime, drain);
      await writeMade(0, -1, s, ns);
      made.clear();
    } while (more);
  };

  const flush = async () => {
    if (batch.count === 0) return;
    const v = batch.vector;
    const last = v.count - 1;
    // What fell due before this batch leaves before it.
    await poll(seconds[0]!, nanoseconds[0]!, false);
    stage.process(v, seconds[0]! + nanoseconds[0]! / 1e9 - firstTime);
    madeOrder.sort(made, v.count);
    for (let i = 0; i < v.count; i++) {
      if (v.verdict[i] === VERDICT_FORWARD) {
        await write(batch.buffer, v.offset[i]!, v.length[i]!, seconds[i]!, nanoseconds[i]!);
      }
      for (let m = madeOrder.start[i]!; m < madeOrder.start[i + 1]!; m++) {
        const k = madeOrder.order[m]!;
        if (made.vector.verdict[k] !== VERDICT_FORWARD) continue;
        await write(
          made.buffer,
          made.vector.offset[k]!,
          made.vector.length[k]!,
          seconds[i]!,
          nanoseconds[i]!,
        );
      }
    }
    made.clear();
    await poll(seconds[last]!, nanoseconds[last]!, false);
    lastSeconds = seconds[last]!;
    lastNanoseconds = nanoseconds[last]!;
    batch.clear();
  };

  const reader = readCapture(input);
  const iterator = reader[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await readNext(iterator, input);
      if (next.done === true) break;
      const record: CaptureRecord = next.value;
      records++;
      if (record.networkOffset < 0) {
        nonIp++;
        continue;
      }
      if (Number.isNaN(firstTime)) firstTime = record.seconds + record.nanoseconds / 1e9;
      const i = batch.add(record.data, record.networkOffset, record.networkLength);
      seconds[i] = record.seconds;
      nanoseconds[i] = record.nanoseconds;
      if (batch.full) await flush();
    }
    await flush();
    // The end of the capture: what the modes still hold (queued, waiting in a reorder window) goes now.
    if (!Number.isNaN(firstTime)) await poll(lastSeconds, lastNanoseconds, true);
  } finally {
    await iterator.return?.(undefined).catch(() => undefined);
  }
  return { records, nonIp };
}

export async function readNext(
  records: AsyncIterator<CaptureRecord>,
  input: string,
): Promise<IteratorResult<CaptureRecord>> {
  try {
    return await records.next();
  } catch (error) {
    if (error instanceof PcapFormatError) {
      // The message names the byte offset of the record at fault and the error's stable code.
      throw new CaptureInputError(`${input}: corrupt capture: ${error.message}`, error.offset);
    }
    throw new CaptureInputError(`${input}: cannot read the capture: ${systemReason(error)}`);
  }
}

export async function checkInput(input: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(input);
  } catch (error) {
    throw new CaptureInputError(`${input}: cannot read the capture: ${systemReason(error)}`);
  }
  if (info.isDirectory()) throw new CaptureInputError(`${input}: cannot read the capture: is a directory`);
  // Opening it now gives the permission error here rather than halfway through the run.
  try {
    closeSync(openSync(input, 'r'));
  } catch (error) {
    throw new CaptureInputError(`${input}: cannot read the capture: ${systemReason(error)}`);
  }
}

export function openOutput(partial: string, output: string, format: CaptureFormat): CaptureWriter {
  let fd: number;
  try {
    fd = openSync(partial, 'w');
  } catch (error) {
    throw outputError(output, error);
  }
  const stream = createWriteStream(partial, { fd });
  return format === 'pcapng'
    ? new PcapngWriter(stream, { interfaces: [{ linkType: LinkType.raw, name: 'espresso' }] })
    : new PcapWriter(stream, { linkType: LinkType.raw });
}

export async function guardOutput<T>(output: string, task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    throw outputError(output, error);
  }
}

export function outputError(output: string, error: unknown): CaptureOutputError {
  return new CaptureOutputError(`${output}: cannot write the capture: ${systemReason(error)}`);
}

/**
 * The made packets of a batch in output order: a stable counting sort by the batch packet each follows,
 * so `order[start[i]] .. order[start[i + 1] - 1]` go out after packet i.
 */
class MadeOrder {
  readonly order: Uint32Array;
  readonly start: Uint32Array;

  constructor(made: number, batch: number) {
    this.order = new Uint32Array(made);
    this.start = new Uint32Array(batch + 2);
  }

  sort(made: MadePackets, count: number): void {
    const start = this.start;
    start.fill(0, 0, count + 2);
    const after = made.after;
    const n = made.vector.count;
    for (let k = 0; k < n; k++) start[placeOf(after[k]!, count) + 1]!++;
    for (let i = 0; i <= count; i++) start[i + 1]! += start[i]!;
    for (let k = 0; k < n; k++) this.order[start[placeOf(after[k]!, count)]!++] = k;
    // The scatter moved each start to the next one's: shift back.
    for (let i = count; i > 0; i--) start[i] = start[i - 1]!;
    start[0] = 0;
  }
}

/** A made packet with no batch packet before it goes after the last. */
function placeOf(after: number, count: number): number {
  return after < 0 || after >= count ? count - 1 : after;
}
