// The package's install script: builds the system-call helper with node-gyp. Plain JavaScript, because
// npm may run it on an older node than the project's own. It never fails the install: when the build
// does not work it says so once and exits 0, and the TUN and raw-socket io adapters report themselves
// unavailable at run time (ESP in UDP on loopback needs no helper).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const logPath = join(packageDir, 'build', 'native-build.log');

const args = ['rebuild', '--release'];
// The helper needs only the N-API and libuv headers; a distribution's Node headers serve when npm was
// not told where headers are (node-gyp would otherwise download them).
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h'))
  args.push('--nodedir=/usr');

// npm points npm_config_node_gyp at its bundled node-gyp; outside npm, one on PATH will do.
const gyp = process.env.npm_config_node_gyp;
const run = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: packageDir, encoding: 'utf8' })
  : spawnSync('node-gyp', args, { cwd: packageDir, encoding: 'utf8' });

const output = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? `\n${run.error.message}` : ''}`;
mkdirSync(join(packageDir, 'build'), { recursive: true });
writeFileSync(logPath, output);

if (run.status === 0) {
  process.stdout.write('@espresso/sys: built the system-call helper (build/Release/espresso_sys.node)\n');
} else {
  const lines = output.split('\n').map((l) => l.trim());
  // The most telling line: a compiler error, gyp's own complaint, then node-gyp's summary.
  const cause =
    lines.find((l) => /\berror:/i.test(l) && !l.startsWith('gyp')) ??
    lines.find((l) => l.startsWith('gyp: ')) ??
    lines.find((l) => l.startsWith('gyp ERR! stack Error'))?.slice('gyp ERR! stack '.length) ??
    (run.error ? run.error.message : `node-gyp exited with ${run.status ?? run.signal}`);
  process.stderr.write(
    `@espresso/sys: the system-call helper did not build (${cause}); TUN and raw ESP will report ` +
      `themselves unavailable, ESP in UDP works without it. Log: ${logPath}\n`,
  );
}
process.exitCode = 0;
