import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compare, type Figure } from './comparison.ts';

const tcp: Figure = {
  name: 'TCP',
  unit: 'Mbit/s',
  better: 'higher',
  values: { Espresso: 500, 'wireguard-go': 430, strongSwan: 396 },
};
const cpu: Figure = {
  name: 'CPU per packet',
  unit: 'µs',
  better: 'lower',
  values: { Espresso: 12, 'wireguard-go': 9, strongSwan: 15 },
};

describe('comparison with the better of the others', () => {
  it('higher is better: ratio to the largest other value', () => {
    const [v] = compare([tcp], 'Espresso');
    assert.equal(v!.bestName, 'wireguard-go');
    assert.equal(v!.best, 430);
    assert.equal(v!.ratio, 500 / 430);
    assert.equal(v!.pass, true);
  });

  it('lower is better: ratio of the smallest other value to the subject', () => {
    const [v] = compare([cpu], 'Espresso');
    assert.equal(v!.bestName, 'wireguard-go');
    assert.equal(v!.ratio, 9 / 12);
    assert.equal(v!.pass, false);
  });

  it('a tie matches', () => {
    const [v] = compare(
      [{ ...tcp, values: { Espresso: 430, 'wireguard-go': 430, strongSwan: 1 } }],
      'Espresso',
    );
    assert.equal(v!.ratio, 1);
    assert.equal(v!.pass, true);
  });

  it('a figure the subject lacks misses; others that lack it are left out', () => {
    const [missing] = compare(
      [{ ...tcp, values: { Espresso: Number.NaN, 'wireguard-go': 430 } }],
      'Espresso',
    );
    assert.equal(missing!.pass, false);
    const [partial] = compare(
      [{ ...tcp, values: { Espresso: 400, 'wireguard-go': Number.NaN, strongSwan: 396 } }],
      'Espresso',
    );
    assert.equal(partial!.bestName, 'strongSwan');
    assert.equal(partial!.pass, true);
  });
});
