import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dropReasonCount, dropReasonName } from '@espresso/counters';
import { LinkType, PacketFlags, type PacketToWrite, PcapngWriter } from '@espresso/pcap';
import { CaptureFilter, type CaptureFilterSpec } from './capture-filter.ts';

/** Where a capture taps the datapath, as VPP's `pcap trace rx tx drop`. */
export const CapturePoint = { rx: 0, tx: 1, drop: 2 } as const;
export type CapturePoint = (typeof CapturePoint)[keyof typeof CapturePoint];
export type CapturePointName = keyof typeof CapturePoint;

/** Which side of the gateway a packet is on: plaintext inside, ESP outside. */
export const CaptureSide = { inside: 0, outside: 1 } as const;
export type CaptureSide = (typeof CaptureSide)[keyof typeof CaptureSide];

export interface CaptureSpec {
  readonly points: readonly CapturePointName[];
  /** Packets kept before the capture stops by itself. */
  readonly limit: number;
  readonly filter?: CaptureFilterSpec;
  /** Bytes kept of each packet; 0 (default) keeps them whole. */
  readonly snapLength?: number;
}

export type CaptureState = 'running' | 'done' | 'failed';

export interface CaptureInfo {
  readonly id: string;
  readonly state: CaptureState;
  readonly points: readonly CapturePointName[];
  readonly limit: number;
  readonly filter: CaptureFilterSpec;
  /** Packets written to the file. */
  readonly packets: number;
  readonly bytes: number;
  readonly path: string;
  readonly startedAt: string;
  readonly stoppedAt: string | null;
  /** Why it stopped: the limit, a stop request, the gateway closing, or the file's error. */
  readonly stopReason: 'limit' | 'stopped' | 'closed' | 'error' | null;
  readonly error: string | null;
}

/** A capture request the manager refuses: `code` is stable. */
export class CaptureError extends Error {
  readonly code: 'busy' | 'not-found' | 'invalid';
  constructor(code: 'busy' | 'not-found' | 'invalid', message: string) {
    super(message);
    this.name = 'CaptureError';
    this.code = code;
  }
}

const interfaceNames = ['inside-rx', 'outside-rx', 'inside-tx', 'outside-tx', 'inside-drop', 'outside-drop'];
const dropComments = Array.from({ length: dropReasonCount + 1 }, (_, r) => `drop: ${dropReasonName(r)}`);
const MAX_LIMIT = 10_000_000;

/** The capture running now: what the hot path checks and feeds. */
export class CaptureSession {
  readonly id: string;
  readonly path: string;
  readonly spec: CaptureSpec;
  /** Bit p set: point p is captured. */
  readonly pointMask: number;
  packets = 0;
  state: CaptureState = 'running';
  stopReason: CaptureInfo['stopReason'] = null;
  error: string | null = null;
  readonly startedAt = new Date();
  stoppedAt: Date | null = null;
  closing: Promise<void> | null = null;
  private readonly filter: CaptureFilter;
  private readonly writer: PcapngWriter;
  private readonly packet: PacketToWrite = {
    bytes: new Uint8Array(0),
    offset: 0,
    length: 0,
    seconds: 0,
    nanoseconds: 0,
    interfaceIndex: 0,
    comment: undefined,
    flags: 0,
  };

  constructor(id: string, path: string, spec: CaptureSpec) {
    this.id = id;
    this.path = path;
    this.spec = spec;
    this.pointMask = spec.points.reduce((m, p) => m | (1 << CapturePoint[p]), 0);
    this.filter = new CaptureFilter(spec.filter ?? {});
    const snapLength = spec.snapLength ?? 0;
    this.writer = new PcapngWriter(path, {
      interfaces: interfaceNames.map((name) => ({ linkType: LinkType.raw, name, snapLength })),
    });
  }

  /**
   * Offers a packet seen at `point` on `side` (`reason`: the DropReason of a drop, else -1). Written when
   * the filter keeps it; the capture stops itself at its limit.
   */
  offer(
    point: CapturePoint,
    side: CaptureSide,
    buf: Uint8Array,
    at: number,
    length: number,
    reason: number,
    wallMs: number,
  ): void {
    if (this.state !== 'running' || (this.pointMask & (1 << point)) === 0) return;
    if (!this.filter.matches(buf, at, length)) return;
    const p = this.packet;
    p.bytes = buf;
    p.offset = at;
    p.length = length;
    p.seconds = Math.floor(wallMs / 1000);
    p.nanoseconds = Math.floor((wallMs % 1000) * 1e6);
    p.interfaceIndex = point * 2 + side;
    p.flags =
      point === CapturePoint.rx ? PacketFlags.inbound : point === CapturePoint.tx ? PacketFlags.outbound : 0;
    p.comment = point === CapturePoint.drop ? dropComments[reason < 0 ? dropReasonCount : reason] : undefined;
    try {
      this.writer.write(p).catch(() => {});
    } catch (error) {
      this.finish('error', error);
      return;
    }
    if (++this.packets >= this.spec.limit) this.finish('limit', null);
  }

  /** Stops taking packets and closes the file; resolves once it is complete on disk. */
  finish(reason: NonNullable<CaptureInfo['stopReason']>, error: unknown): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.stopReason = reason;
    this.stoppedAt = new Date();
    if (error !== null) this.error = error instanceof Error ? error.message : String(error);
    this.state = error === null ? 'done' : 'failed';
    this.closing = this.writer.close().catch((e: unknown) => {
      this.state = 'failed';
      this.error ??= e instanceof Error ? e.message : String(e);
    });
    return this.closing;
  }

  info(): CaptureInfo {
    return {
      id: this.id,
      state: this.state,
      points: this.spec.points,
      limit: this.spec.limit,
      filter: this.spec.filter ?? {},
      packets: this.packets,
      bytes: this.writer.bytesWritten,
      path: this.path,
      startedAt: this.startedAt.toISOString(),
      stoppedAt: this.stoppedAt?.toISOString() ?? null,
      stopReason: this.stopReason,
      error: this.error,
    };
  }
}

/**
 * Packet captures of a gateway, one running at a time (the hot path checks one field): started with
 * the points to tap, a packet limit and a filter, written as pcapng (raw IP, one interface per side
 * and point, drops commented with their reason), kept in `directory` until removed.
 */
export class PacketCapture {
  readonly directory: string;
  /** The running capture, or null: what io checks per batch. */
  active: CaptureSession | null = null;
  private readonly sessions = new Map<string, CaptureSession>();

  constructor(directory: string) {
    this.directory = directory;
  }

  start(spec: CaptureSpec): CaptureInfo {
    if (this.active !== null) {
      throw new CaptureError('busy', `capture ${this.active.id} is running; stop it first`);
    }
    const points = [...new Set(spec.points)];
    if (points.length === 0) throw new CaptureError('invalid', 'points: name at least one of rx, tx, drop');
    for (const p of points) {
      if (!(p in CapturePoint))
        throw new CaptureError('invalid', `points: '${String(p)}' is not rx, tx or drop`);
    }
    if (!Number.isInteger(spec.limit) || spec.limit < 1 || spec.limit > MAX_LIMIT) {
      throw new CaptureError('invalid', `limit: an integer from 1 to ${MAX_LIMIT}`);
    }
    mkdirSync(this.directory, { recursive: true });
    const id = randomUUID();
    const session = new CaptureSession(id, join(this.directory, `capture-${id}.pcapng`), { ...spec, points });
    this.sessions.set(id, session);
    this.active = session;
    return session.info();
  }

  async stop(id: string): Promise<CaptureInfo> {
    const session = this.require(id);
    if (this.active === session) this.active = null;
    await session.finish('stopped', null);
    return session.info();
  }

  /** The running capture, once it stopped by itself, is no longer active. */
  settle(): void {
    if (this.active !== null && this.active.state !== 'running') this.active = null;
  }

  get(id: string): CaptureInfo {
    return this.require(id).info();
  }

  /** Resolves when the capture's file is complete (it stopped and was closed). */
  async finished(id: string): Promise<CaptureInfo> {
    const session = this.require(id);
    if (session.closing === null) throw new CaptureError('invalid', `capture ${id} is still running`);
    await session.closing;
    return session.info();
  }

  list(): CaptureInfo[] {
    return [...this.sessions.values()].map((s) => s.info());
  }

  async remove(id: string): Promise<void> {
    const session = this.require(id);
    if (this.active === session) this.active = null;
    await session.finish('stopped', null);
    rmSync(session.path, { force: true });
    this.sessions.delete(id);
  }

  async close(): Promise<void> {
    const active = this.active;
    this.active = null;
    if (active !== null) await active.finish('closed', null);
  }

  private require(id: string): CaptureSession {
    const session = this.sessions.get(id);
    if (session === undefined) throw new CaptureError('not-found', `no capture '${id}'`);
    return session;
  }
}
