import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SaLifetime } from './lifetime.ts';
import type { LifetimeLimits } from './sa-parameters.ts';

const none: LifetimeLimits = {
  packets: Number.POSITIVE_INFINITY,
  bytes: Number.POSITIVE_INFINITY,
  addSeconds: Number.POSITIVE_INFINITY,
  useSeconds: Number.POSITIVE_INFINITY,
};

describe('SaLifetime', () => {
  it('admits exactly the hard packet limit, reports soft and hard once each', () => {
    const lt = new SaLifetime({ ...none, packets: 3 }, { ...none, packets: 5 }, 0);
    const admitted: boolean[] = [];
    const soft: (string | null)[] = [];
    for (let i = 0; i < 7; i++) {
      admitted.push(lt.admit(100));
      soft.push(lt.takeSoft());
    }
    assert.deepEqual(admitted, [true, true, true, true, true, false, false]);
    assert.deepEqual(soft, [null, null, 'packets', null, null, null, null]);
    assert.equal(lt.packets, 5);
    assert.equal(lt.takeHard(), 'packets');
    assert.equal(lt.takeHard(), null);
  });

  it('expires on bytes after the packet that reaches the limit', () => {
    const lt = new SaLifetime(none, { ...none, bytes: 250 }, 0);
    assert.equal(lt.admit(100), true);
    assert.equal(lt.admit(100), true);
    assert.equal(lt.admit(100), true);
    assert.equal(lt.expired, true);
    assert.equal(lt.admit(1), false);
    assert.equal(lt.bytes, 300);
  });

  it('applies add time from installation and use time from the first packet', () => {
    const lt = new SaLifetime(
      { ...none, useSeconds: 10 },
      { ...none, addSeconds: 100, useSeconds: 20 },
      1000,
    );
    lt.checkTime(1050);
    assert.equal(lt.expired, false);
    assert.equal(lt.takeSoft(), null);
    lt.admit(1);
    lt.checkTime(1059);
    assert.equal(lt.takeSoft(), null);
    lt.checkTime(1060);
    assert.equal(lt.takeSoft(), 'useSeconds');
    lt.checkTime(1070);
    assert.equal(lt.expired, true);
    assert.equal(lt.takeHard(), 'useSeconds');
    const added = new SaLifetime(none, { ...none, addSeconds: 100 }, 1000);
    added.checkTime(1100);
    assert.equal(added.takeHard(), 'addSeconds');
  });
});
