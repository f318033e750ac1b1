import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  DescriptorFlag,
  descriptorFlags,
  descriptorLength,
  descriptorOffset,
  descriptorSlot,
  flagsFor,
  portOf,
  setDescriptorFlags,
  setDescriptorSpan,
  writeDescriptor,
} from './descriptor.ts';

const fields = fc.record({
  slot: fc.integer({ min: 0, max: 2 ** 24 - 1 }),
  offset: fc.integer({ min: 0, max: 0xffff }),
  length: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.integer({ min: 0, max: 0xff }),
  index: fc.integer({ min: 0, max: 7 }),
});

test('descriptor words follow the documented layout and decode to what was written', () => {
  fc.assert(
    fc.property(fields, ({ slot, offset, length, flags, index }) => {
      const descs = new Uint32Array(16).fill(0xdeadbeef);
      writeDescriptor(descs, index, slot, offset, length, flags);
      // Independent of the bit operations: the layout as arithmetic.
      assert.equal(descs[2 * index], flags * 2 ** 24 + slot);
      assert.equal(descs[2 * index + 1], offset * 2 ** 16 + length);
      for (let w = 0; w < 16; w++) if (w >> 1 !== index) assert.equal(descs[w], 0xdeadbeef);
      assert.equal(descriptorSlot(descs, index), slot);
      assert.equal(descriptorOffset(descs, index), offset);
      assert.equal(descriptorLength(descs, index), length);
      assert.equal(descriptorFlags(descs, index), flags);
    }),
  );
});

test('span and flag rewrites leave the other fields alone', () => {
  fc.assert(
    fc.property(fields, fields, (a, b) => {
      const descs = new Uint32Array(16);
      writeDescriptor(descs, a.index, a.slot, a.offset, a.length, a.flags);
      setDescriptorSpan(descs, a.index, b.offset, b.length);
      setDescriptorFlags(descs, a.index, b.flags);
      assert.equal(descriptorSlot(descs, a.index), a.slot);
      assert.equal(descriptorOffset(descs, a.index), b.offset);
      assert.equal(descriptorLength(descs, a.index), b.length);
      assert.equal(descriptorFlags(descs, a.index), b.flags);
    }),
  );
});

test('flags carry direction, port and stage bits', () => {
  const flags = flagsFor(true, 5, 0xa);
  assert.equal(flags & DescriptorFlag.inbound, 1);
  assert.equal(portOf(flags), 5);
  assert.equal(flags >>> DescriptorFlag.stageShift, 0xa);
  assert.equal(flagsFor(false, 0), 0);
});
