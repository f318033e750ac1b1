/**
 * `espresso serve --config` with interfaces it cannot open says why and exits non-zero: a TUN device
 * without root, an address that is not the host's.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const mainTs = new URL('../../../control-plane/src/cli/main.ts', import.meta.url).pathname;
const asRoot = process.getuid?.() === 0;

function serve(config: object, asNobody: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'espresso-start-'));
  try {
    chmodSync(dir, 0o755);
    const file = join(dir, 'gateway.json');
    writeFileSync(file, JSON.stringify(config));
    chmodSync(file, 0o644);
    const args = [mainTs, 'serve', '--config', file, '--listen', '127.0.0.1:0', '--workers', '1'];
    const r = asNobody
      ? spawnSync(
          'setpriv',
          ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, ...args],
          {
            encoding: 'utf8',
            timeout: 60_000,
          },
        )
      : spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('without root, a TUN inside is refused with the reason and a non-zero exit', {
  skip: !asRoot && 'needs root to drop to nobody',
}, () => {
  const r = serve(
    {
      interfaces: {
        inside: { type: 'tun', name: 'espnoroot0' },
        outside: [{ type: 'udp', address: '127.0.0.1', port: 0 }],
      },
    },
    true,
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    /espresso: TUN device espnoroot0: (EPERM: creating a TUN device needs root \(CAP_NET_ADMIN\)|there is no \/dev\/net\/tun)/,
  );
  assert.doesNotMatch(r.stderr, /listening on/);
});

test('an outside address that is not this host is refused with the reason', () => {
  const r = serve({ interfaces: { outside: [{ type: 'udp', address: '192.0.2.77', port: 4500 }] } }, false);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /espresso: .*EADDRNOTAVAIL.*192\.0\.2\.77/);
});

test('a wildcard outside address is refused: ESP is looked up by its destination', () => {
  const r = serve({ interfaces: { outside: [{ type: 'udp', address: '0.0.0.0' }] } }, false);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /address: 0\.0\.0\.0 is a wildcard/);
});

test('a configuration whose interfaces are malformed names the fields', () => {
  const r = serve(
    {
      interfaces: {
        outside: [{ type: 'udp', address: '10.0.0.1', port: 70000 }],
        inside: { type: 'tun', name: 'bad name' },
      },
    },
    false,
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /\/interfaces\/outside\/0\/port: must be <= 65535/);
  assert.match(r.stderr, /\/interfaces\/inside\/name: must match pattern/);
  const raw = serve(
    {
      interfaces: {
        outside: [
          { type: 'raw-esp', address: '10.0.0.1', port: 4500 },
          { type: 'raw-esp', address: '10.0.0.2' },
        ],
      },
    },
    false,
  );
  assert.equal(raw.status, 1, raw.stderr);
  assert.match(raw.stderr, /\/interfaces\/outside\/0\/port: applies to type udp only/);
  assert.match(raw.stderr, /\/interfaces\/outside\/1: a second raw-esp endpoint of this address family/);
});
