export * from './counter-layout.ts';
export * from './counters-reader.ts';
export * from './drop-reason.ts';
export * from './histogram.ts';
export * from './worker-counters.ts';
