import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { algorithmCases, innerPacket, saPair } from '@espresso/esp/testing';
import { espresso, Workdir, writeCapture } from './process-harness.ts';

/**
 * A configuration at fault is refused before anything is processed: exit status 2, one line per field
 * at fault naming the file and the field's JSON pointer with the reason, nothing on standard output, no
 * output file (nor a partial one), and no key material in what is printed. Each check stage gets a
 * document with several faults of its kind: all must be named.
 */

const alg = algorithmCases(23)[2]!; // aes-gcm-256
const pair = saPair(alg, { spi: 0x1001 });
const KEY = alg.encryption.key;
const sa = { ...pair.out, name: 'a-to-b' };
const back = { ...pair.in, name: 'b-to-a', spi: 0x2001 };
const policy = {
  direction: 'out',
  local: '10.1.0.0/16',
  remote: '10.2.0.0/16',
  action: 'protect',
  template: { mode: 'tunnel', sa: { name: 'a-to-b' } },
};

const work = new Workdir();
after(() => work.remove());
let input = '';

function refuse(name: string, text: string, paths: readonly string[], reasons: readonly RegExp[] = []) {
  it(`${name}: exit 2, ${paths.join(', ')} named, nothing written`, () => {
    const config = work.path(`${name}.json`);
    writeFileSync(config, text);
    const out = work.path(`${name}-out.pcap`);
    const stats = work.path(`${name}-stats.json`);
    const r = espresso([
      'process',
      '--config',
      config,
      '--in',
      input,
      '--out',
      out,
      '--from',
      'inside',
      '--stats',
      stats,
    ]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    for (const path of paths) {
      assert.ok(
        lines.some((l) => l.startsWith(`espresso: ${config}: ${path}: `)),
        `no line for ${path}:\n${r.stderr}`,
      );
    }
    for (const reason of reasons) assert.match(r.stderr, reason);
    assert.ok(!r.stderr.includes(KEY.slice(4, 36)), 'a key was printed');
    assert.equal(work.exists(`${name}-out.pcap`), false);
    assert.equal(work.exists(`${name}-out.pcap.partial`), false);
    assert.equal(work.exists(`${name}-stats.json`), false);
  });
}

const json = (doc: unknown) => JSON.stringify(doc, null, 2);

describe('espresso process refuses a configuration at fault', () => {
  before(async () => {
    input = work.path('in.pcap');
    await writeCapture(input, [
      innerPacket({ version: 4, src: '10.1.0.1', dst: '10.2.0.2', payloadBytes: 10 }),
    ]);
  });

  refuse(
    'shape',
    json({
      version: 1,
      sas: [
        { ...sa, lokal: '192.0.2.1', esn: 'yes' },
        { ...back, mode: 'tunel' },
      ],
      spd: { policies: [{ ...policy, action: 'encrypt' }] },
      polices: [],
    }),
    ['/sas/0/lokal', '/sas/0/esn', '/sas/1/mode', '/spd/policies/0/action', '/polices'],
    [/unknown field/, /must be one of "tunnel", "transport", "beet"/],
  );

  refuse(
    'meaning',
    json({
      sas: [
        { ...sa, encryption: { ...sa.encryption, key: KEY.slice(8) } },
        { ...back, remote: '2001:db8::2' },
        { ...back, spi: 0x3001 },
        { ...back, spi: 0x4001 },
      ],
    }),
    ['/sas/0/encryption/key', '/sas/1/remote', '/sas/3/name'],
    [/36 bytes/, /address family/],
  );

  refuse(
    'policies',
    json({
      sas: [sa, back],
      spd: {
        policies: [
          { ...policy, template: { mode: 'tunnel', sa: { name: 'a-to-c' } } },
          { ...policy, remote: '10.3.0.0/16', template: { mode: 'transport', sa: { name: 'a-to-b' } } },
          { ...policy, remote: '10.4.0.0/16', template: { mode: 'tunnel' } },
        ],
      },
    }),
    ['/spd/policies/0/template/sa/name', '/spd/policies/1/template/mode', '/spd/policies/2/template'],
    [/no SA named 'a-to-c'/],
  );

  refuse(
    'spd',
    json({ sas: [sa], spd: { policies: [{ ...policy, local: '10.1.0.0/40', localPorts: 7 }] } }),
    ['/spd/policies/0/local', '/spd/policies/0/localPorts'],
  );

  refuse('version', json({ version: 2, sas: [sa] }), ['/version']);

  refuse('keys-kept', json({ sas: [{ ...sa, keyFingerprint: '0123456789abcdef' }] }), [
    '/sas/0/keyFingerprint',
  ]);

  it('bad JSON: exit 2, the place given, the text around it (a key) never printed', () => {
    const config = work.path('broken.json');
    const line = `  "sas": [ { "encryption": { "key": "${KEY}" } x ] }`;
    writeFileSync(config, `{\n${line}\n`);
    const out = work.path('broken-out.pcap');
    const r = espresso(['process', '--config', config, '--in', input, '--out', out, '--from', 'inside']);
    assert.equal(r.status, 2);
    const column = line.indexOf(' x ') + 2;
    assert.equal(r.stderr, `espresso: ${config}: not valid JSON (line 2, column ${column})\n`);
    assert.equal(work.exists('broken-out.pcap'), false);
  });

  it('a missing configuration file: exit 2, one line', () => {
    const config = work.path('none.json');
    const r = espresso([
      'process',
      '--config',
      config,
      '--in',
      input,
      '--out',
      work.path('x.pcap'),
      '--from',
      'inside',
    ]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `espresso: ${config}: cannot read the configuration: no such file\n`);
    assert.equal(work.exists('x.pcap'), false);
  });

  it('bad options: exit 2, one line each', () => {
    const config = work.path('shape.json');
    const cases: [string[], RegExp][] = [
      [['--config', config, '--in', input, '--out', work.path('y.pcap')], /missing required option --from/],
      [
        ['--config', config, '--in', input, '--out', work.path('y.pcap'), '--from', 'left'],
        /--from must be inside or outside/,
      ],
      [
        ['--config', config, '--in', input, '--out', input, '--from', 'inside'],
        /--out names the same file as --in/,
      ],
      [
        ['--config', config, '--in', input, '--out', work.path('y.pcap'), '--from', 'inside', '--batch', '0'],
        /--batch/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = espresso(['process', ...args]);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1);
    }
    assert.equal(work.exists('y.pcap'), false);
  });
});
