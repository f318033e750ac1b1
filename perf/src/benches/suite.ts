import { spawnSync } from 'node:child_process';

const usage = `Usage: npm run bench -- suite [options]

Runs every scenario of the perf suite one after the other (encrypt, decrypt, both, scaling, budget,
idle, qos-reorder, postmessage) with the options given (e.g. --seconds 3 --bytes imix), then rebuilds
perf/REPORT.md from their results. qos-reorder keeps its own defaults for what is not given.
`;

const scenarios = ['encrypt', 'decrypt', 'both', 'scaling', 'budget', 'idle', 'qos-reorder', 'postmessage'];
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(usage);
} else {
  const runner = new URL('../bench.ts', import.meta.url).pathname;
  for (const name of [...scenarios, 'report']) {
    process.stdout.write(`\n=== ${name} ===\n`);
    const run = spawnSync(process.execPath, [runner, name, ...(name === 'report' ? [] : args)], {
      stdio: 'inherit',
    });
    if (run.status !== 0) {
      process.stderr.write(`suite: ${name} failed (exit ${run.status})\n`);
      process.exitCode = 1;
    }
  }
}
