export { SysError } from '@espresso/sys';
export type {
  ControlMessage,
  SaPlacement,
  SaSecret,
  WorkerBoot,
  WorkerFault,
  WorkerProbe,
  WorkerReport,
} from './control/messages.ts';
export type { CaptureFilterSpec } from './io/capture-filter.ts';
export { GatewayIo, type GatewayIoOptions, type OutsideEndpoint } from './io/gateway-io.ts';
export type { EndpointStats, GatewayIoStats } from './io/gateway-io-stats.ts';
export type { InsidePort } from './io/inside-port.ts';
export {
  CaptureError,
  type CaptureInfo,
  CapturePoint,
  type CapturePointName,
  type CaptureSpec,
  PacketCapture,
} from './io/packet-capture.ts';
export { PacketCollector, type PacketVisitor } from './io/packet-collector.ts';
export { PacketInjector, type Side } from './io/packet-injector.ts';
export { type InnerRoute, type OutboundSaPath, PathTable } from './io/path-table.ts';
export { PoolIo, type WorkerRings } from './io/pool-io.ts';
export { TunInside } from './io/tun-inside.ts';
export { UdpOutside, type UdpOutsideOptions, type UdpReceiver, type UdpSent } from './io/udp-outside.ts';
export {
  type ClockSource,
  defaultWorkerCount,
  type IdlePolicy,
  MAX_WORKERS,
  type PollSettings,
  PoolConfigError,
  type ResolvedPoolOptions,
  resolvePoolOptions,
  type WorkerPoolOptions,
} from './options/pool-options.ts';
export type { PoolAck } from './pool/ack-tracker.ts';
export { chooseOwner, type OwnerQuestion } from './pool/owner-assignment.ts';
export { type SaEntry, type SaInstallSpec, spiOf } from './pool/sa-registry.ts';
export {
  type PoolEventListener,
  type PoolSaCounters,
  type PoolWorkerStats,
  WorkerPool,
} from './pool/worker-pool.ts';
export { createDatapathStorage, type DatapathStorage, poolThreadOf } from './shared/datapath-storage.ts';
export { RING_KINDS, RingKind, ringId, type WorkerRingStorage } from './shared/ring-layout.ts';
export { SaProgress, type SaProgressStorage } from './shared/sa-progress.ts';
export {
  MADE_TAG,
  readHandoffTarget,
  readSlotStamp,
  readSlotTag,
  SLOT_METADATA_BYTES,
  stampView,
  writeSlotStamp,
  writeSlotTag,
} from './shared/slot-headroom.ts';
export { SpiSteeringTable, type SteeringStorage } from './shared/spi-steering-table.ts';
export { ControlWord, WorkerExtra } from './shared/worker-control.ts';
export { flowHash, workerOfHash } from './steering/flow-hash.ts';
export { PacketSteering } from './steering/packet-steering.ts';
export { HANDED_OFF } from './thread/handoff.ts';
