export * from './cipher-spec.ts';
export type { CryptoEngine, SaCipher } from './engine.ts';
export { CryptoConfigError, CryptoErrorCode } from './errors.ts';
export * from './packet-batch.ts';
export { redactKeys } from './redaction.ts';
export {
  type AlgorithmProbe,
  autoEngineOrder,
  createSaCipher,
  cryptoEngines,
  type EngineChoice,
  type EngineProbe,
  engineNames,
  getEngine,
  type ProbedSpec,
  probeAlgorithms,
  selectEngine,
} from './registry.ts';
export { selfTest } from './self-test.ts';
export { copyBatch, type LayoutOptions, layOutPackets, packetBytes, type TestPacket } from './test-batch.ts';
