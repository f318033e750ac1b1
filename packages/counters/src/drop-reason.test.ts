import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DropReason, dropReasonName, dropReasons } from './drop-reason.ts';

test('drop reason codes are dense, unique and indexed by code', () => {
  const codes = Object.values(DropReason);
  assert.equal(new Set(codes).size, codes.length);
  for (const [index, reason] of dropReasons.entries()) assert.equal(reason.code, index);
});

test('drop reason names are snake_case and unique', () => {
  const names = dropReasons.map((r) => r.name);
  assert.equal(new Set(names).size, names.length);
  for (const name of names) assert.match(name, /^[a-z][a-z0-9_]*$/);
  assert.equal(dropReasonName(DropReason.icvFailure), 'icv_failure');
  assert.equal(dropReasonName(9999), 'unknown_9999');
});

test('every Linux counter named is a real xfrm_stat field', () => {
  for (const reason of dropReasons) {
    if (reason.linux !== null) assert.match(reason.linux, /^Xfrm(In|Out|Fwd|Acquire)[A-Za-z]+$/);
  }
});
