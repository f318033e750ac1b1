export * from './drop-reason.ts';
