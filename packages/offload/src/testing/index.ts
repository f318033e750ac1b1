export * from './contract-suite.ts';
export * from './fixtures.ts';
export * from './iproute2-capture.ts';
export * from './memory-datapath.ts';
