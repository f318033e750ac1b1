export * from './capabilities.ts';
export * from './driver.ts';
export * from './driver-stats.ts';
export * from './drivers/software.ts';
export * from './lifetime-budget.ts';
export * from './placement.ts';
export * from './placement-manager.ts';
export * from './result.ts';
