export * from './config-file.ts';
export * from './config-file-schema.ts';
export * from './config-issue.ts';
