export * from './acquire.ts';
export {
  type Family,
  formatAddress,
  formatPrefix,
  type ParsedAddress,
  type Prefix,
  parseAddress,
  parsePrefix,
} from './address.ts';
export { ENTRY_STRIDE, F as EntryField } from './box.ts';
export * from './classifier.ts';
export { DEFAULT_MAX_ENTRIES, decorrelate } from './decorrelate.ts';
export * from './errors.ts';
export { firstMatch, policyMatches } from './first-match.ts';
export { CACHE_MISS, FlowCache, hashQuery, SLOT_WORDS, WAYS } from './flow-cache.ts';
export { LookupTree, type TreeOptions, type TreeParts, type TreeStats } from './lookup-tree.ts';
export * from './policy.ts';
export { fillQuery, Q, QUERY_WORDS } from './query.ts';
export * from './schema.ts';
export * from './snapshot.ts';
export { SpdStore } from './spd-store.ts';
export * from './validate.ts';
export * from './view.ts';
