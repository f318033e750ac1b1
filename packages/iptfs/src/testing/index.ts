export * from './packets.ts';
export * from './sink.ts';
