import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DemoOptionError, resolveDemoOptions } from './demo-options.ts';

function refusal(text: Parameters<typeof resolveDemoOptions>[0]): DemoOptionError {
  try {
    resolveDemoOptions(text, false);
  } catch (error) {
    assert.ok(error instanceof DemoOptionError, String(error));
    return error;
  }
  assert.fail('the options were accepted');
}

describe('espresso demo options', () => {
  it('defaults: as fast as it goes, 512-byte packets, one worker each, until stopped, API on 8470', () => {
    const o = resolveDemoOptions({}, true);
    assert.equal(o.rate, 'max');
    assert.deepEqual(o.size.sizes, [512]);
    assert.equal(o.workers, 1);
    assert.equal(o.duration, null);
    assert.deepEqual(o.listen, { host: '127.0.0.1', port: 8470 });
    assert.deepEqual(o.outsidePorts, [0, 0]);
    assert.equal(o.view, 'screen');
  });

  it('plain lines when standard output is not a terminal, or when asked', () => {
    assert.equal(resolveDemoOptions({}, false).view, 'lines');
    assert.equal(resolveDemoOptions({ plain: true }, true).view, 'lines');
  });

  it('takes every option', () => {
    const o = resolveDemoOptions(
      {
        rate: '20000',
        size: 'imix',
        workers: '3',
        duration: '2.5',
        listen: '127.0.0.1:0',
        outsidePorts: '4500,4501',
      },
      false,
    );
    assert.equal(o.rate, 20000);
    assert.deepEqual(o.size.sizes, [64, 576, 1500]);
    assert.equal(o.workers, 3);
    assert.equal(o.duration, 2.5);
    assert.deepEqual(o.listen, { host: '127.0.0.1', port: 0 });
    assert.deepEqual(o.outsidePorts, [4500, 4501]);
  });

  it('names the option at fault', () => {
    const cases: [Parameters<typeof resolveDemoOptions>[0], string][] = [
      [{ rate: '0' }, 'rate'],
      [{ rate: 'fast' }, 'rate'],
      [{ size: '43' }, 'size'],
      [{ size: '1501' }, 'size'],
      [{ workers: '0' }, 'workers'],
      [{ duration: '0' }, 'duration'],
      [{ duration: '-1' }, 'duration'],
      [{ listen: 'nowhere' }, 'listen'],
      [{ listen: '127.0.0.1:65535' }, 'listen'],
      [{ outsidePorts: '4500' }, 'outside-ports'],
      [{ outsidePorts: '4500,4500' }, 'outside-ports'],
      [{ outsidePorts: '4500,70000' }, 'outside-ports'],
    ];
    for (const [text, option] of cases) {
      const error = refusal(text);
      assert.equal(error.option, option, JSON.stringify(text));
      assert.match(error.message, new RegExp(`^--${option}: `));
    }
  });
});
