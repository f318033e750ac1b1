import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

/**
 * `npm run bench -- <name> [options]`: runs perf/src/benches/<name>.ts on the pinned Node, passing the
 * options through. With no name, lists the benchmarks.
 */
const benchesDir = new URL('./benches/', import.meta.url);
const names = readdirSync(benchesDir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === '--help' || name === '-h') {
  process.stdout.write(
    `Usage: npm run bench -- <name> [options]\n\nBenchmarks:\n${names.map((n) => `  ${n}`).join('\n')}\n`,
  );
  process.exitCode = name === undefined ? 0 : 0;
} else if (!names.includes(name)) {
  process.stderr.write(`bench: unknown benchmark '${name}' (have: ${names.join(', ')})\n`);
  process.exitCode = 2;
} else {
  const run = spawnSync(process.execPath, [new URL(`${name}.ts`, benchesDir).pathname, ...rest], {
    stdio: 'inherit',
  });
  process.exitCode = run.status ?? 1;
}
