export * from './esp-sink.ts';
export * from './pool-driver.ts';
export * from './sa-fixtures.ts';
export * from './test-pool.ts';
export * from './traffic.ts';
