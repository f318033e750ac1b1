import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runEspresso } from './main.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

test('--version prints the package version', async () => {
  const c = capture();
  assert.equal(await runEspresso(['--version'], c.io), 0);
  assert.match(c.out.join(''), /^\d+\.\d+\.\d+\n$/);
});

test('--help lists every command', async () => {
  const c = capture();
  assert.equal(await runEspresso(['--help'], c.io), 0);
  assert.match(c.out.join(''), /version/);
});

test('an unknown command is a one-line error with status 2', async () => {
  const c = capture();
  assert.equal(await runEspresso(['no-such-command'], c.io), 2);
  const text = c.err.join('');
  assert.match(text, /unknown command 'no-such-command'/);
  assert.equal(text.trim().split('\n').length, 1);
});

test('an unknown option is a one-line error with status 2', async () => {
  const c = capture();
  assert.equal(await runEspresso(['version', '--bogus'], c.io), 2);
  assert.match(c.err.join(''), /--bogus/);
  assert.equal(c.err.join('').trim().split('\n').length, 1);
});

test('each command has --help', async () => {
  const c = capture();
  assert.equal(await runEspresso(['version', '--help'], c.io), 0);
  assert.match(c.out.join(''), /^espresso version/);
});
