// Builds a package's N-API addon with node-gyp: the one builder behind the install scripts of the packages
// with native code (each package's native/build.mjs says what its addon is and what works without it).
// Plain JavaScript that needs nothing built or installed first, because npm runs install scripts in an
// order of its own, possibly on an older node than the project's. It never fails the install: when the
// build does not work it says so once and exits 0, and the package reports its addon unavailable at run
// time.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @param {object} addon
 * @param {string} addon.packageDir  the package's folder (binding.gyp's)
 * @param {string} addon.what        what the addon is, for the messages ("the system-call helper")
 * @param {string} addon.target      binding.gyp's target_name
 * @param {string[]} addon.headers   the headers it needs, relative to a Node include folder
 * @param {string} addon.without     what happens without it, a sentence for the operator
 */
export function buildAddon({ packageDir, what, target, headers, without }) {
  let name = packageDir;
  try {
    name = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).name;
    const logPath = join(packageDir, 'build', 'native-build.log');
    const run = runNodeGyp(packageDir, headers);
    const output = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? `\n${run.error.message}` : ''}`;
    mkdirSync(join(packageDir, 'build'), { recursive: true });
    writeFileSync(logPath, output);
    if (run.status === 0) {
      process.stdout.write(`${name}: built ${what} (build/Release/${target}.node)\n`);
    } else {
      const cause =
        mostTellingLine(output) ??
        (run.error ? run.error.message : `node-gyp exited with ${run.status ?? run.signal}`);
      process.stderr.write(`${name}: ${what} did not build (${cause}); ${without} Log: ${logPath}\n`);
    }
  } catch (error) {
    process.stderr.write(`${name}: ${what} did not build (${error.message}); ${without}\n`);
  }
  process.exitCode = 0;
}

function runNodeGyp(packageDir, headers) {
  const args = ['rebuild', '--release'];
  // The addons need only headers that ship with Node's (N-API, libuv, OpenSSL); a distribution's serve when
  // npm was not told where headers are (node-gyp would otherwise download them).
  if (!process.env.npm_config_nodedir && headers.every((h) => existsSync(join('/usr/include/node', h))))
    args.push('--nodedir=/usr');
  // npm points npm_config_node_gyp at its bundled node-gyp; outside npm, one on PATH will do.
  const gyp = process.env.npm_config_node_gyp;
  return gyp
    ? spawnSync(process.execPath, [gyp, ...args], { cwd: packageDir, encoding: 'utf8' })
    : spawnSync('node-gyp', args, { cwd: packageDir, encoding: 'utf8' });
}

/** A compiler error, gyp's own complaint, then node-gyp's summary. */
function mostTellingLine(output) {
  const lines = output.split('\n').map((l) => l.trim());
  return (
    lines.find((l) => /\berror:/i.test(l) && !l.startsWith('gyp')) ??
    lines.find((l) => l.startsWith('gyp: ')) ??
    lines.find((l) => l.startsWith('gyp ERR! stack Error'))?.slice('gyp ERR! stack '.length)
  );
}
