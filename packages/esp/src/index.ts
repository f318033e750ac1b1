export * from './ecn.ts';
export * from './esn.ts';
export * from './inbound.ts';
export * from './inbound-sa-table.ts';
export * from './lifetime.ts';
export {
  attachIptfs,
  type IptfsAttachment,
  type IptfsSaState,
  iptfsMode,
  iptfsPayloadBytes,
  iptfsStateOf,
  setIptfsPathMtu,
} from './modes/iptfs.ts';
export {
  createModeOutlet,
  type EspMode,
  type InboundPacket,
  type ModeEnvironment,
  type ModeOutlet,
  type ModePacketSink,
  type OutboundFrame,
  type PacketSlots,
} from './modes/mode.ts';
export { espModeFor, espModeNames, registerEspMode } from './modes/registry.ts';
export * from './outbound.ts';
export * from './packet-vector.ts';
export * from './random-pool.ts';
export * from './replay-window.ts';
export * from './sa-config.ts';
export * from './sa-config-error.ts';
export * from './sa-config-validate.ts';
export * from './sa-counters.ts';
export * from './sa-events.ts';
export * from './sa-parameters.ts';
export * from './sa-runtime.ts';
export * from './sequence.ts';
