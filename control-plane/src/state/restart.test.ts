import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileHighWaterMarks } from '@espresso/sad';
import { InProcessDatapath } from '../datapath/in-process-datapath.ts';
import { gcmSa } from '../testing/api-harness.ts';
import { ControlPlane } from './control-plane.ts';

async function start(marks: string) {
  const datapath = new InProcessDatapath();
  const cp = new ControlPlane({ datapath, highWaterMarks: new FileHighWaterMarks(marks) });
  await cp.start();
  return { cp, datapath };
}

test('after a restart, an SA re-added with the same keying continues above what it used', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'espresso-restart-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const marks = join(dir, 'marks.json');
  const outbound = gcmSa({ name: 'out', spi: 0x5001, direction: 'out' });
  const inbound = gcmSa({ name: 'in', spi: 0x5002, direction: 'in' });

  const first = await start(marks);
  await first.cp.createSa(structuredClone(outbound));
  await first.cp.createSa(structuredClone(inbound));
  first.datapath.account('out', { packets: 700, bytes: 70_000 });
  first.datapath.account('in', { packets: 90, bytes: 9_000 });
  await first.cp.close();

  const second = await start(marks);
  const out = await second.cp.createSa(structuredClone(outbound));
  const inn = await second.cp.createSa(structuredClone(inbound));
  assert.equal(out.config.initialSequence, '701');
  assert.deepEqual(inn.config.initialReplay, { top: '90' });
  assert.equal(second.datapath.saCounters('out')?.nextSequence, 701n);
  // A different key under the same SPI owes nothing to the old one.
  await second.cp.deleteSa('out');
  const rekeyed = await second.cp.createSa(gcmSa({ name: 'out', spi: 0x5001, direction: 'out' }));
  assert.equal(rekeyed.resumedAbove, null);
  await second.cp.close();
});
