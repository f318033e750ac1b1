import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Sums the TAP files each workspace's `npm test` writes to .test-results/ and prints one line per
 * workspace and a closing `N passed, N failed` line, so one figure covers the whole suite.
 */
const root = new URL('../../', import.meta.url).pathname;
const resultsDir = join(root, '.test-results');

function tapFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? tapFiles(join(dir, entry.name))
      : entry.name.endsWith('.tap')
        ? [join(dir, entry.name)]
        : [],
  );
}

function field(text: string, name: string): number {
  const match = text.match(new RegExp(`^# ${name} (\\d+)$`, 'm'));
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

let passed = 0;
let failed = 0;
let skipped = 0;
const lines: string[] = [];
for (const file of tapFiles(resultsDir).sort()) {
  const text = readFileSync(file, 'utf8');
  const p = field(text, 'pass');
  const f = field(text, 'fail') + field(text, 'cancelled');
  const s = field(text, 'skipped') + field(text, 'todo');
  passed += p;
  failed += f;
  skipped += s;
  const name = file.slice(resultsDir.length + 1, -'.tap'.length);
  lines.push(
    `  ${name.padEnd(28)} ${String(p).padStart(5)} passed ${String(f).padStart(3)} failed ${String(s).padStart(3)} skipped`,
  );
}
const missing = workspacesWithTests().filter((name) => !existsSync(join(resultsDir, `${name}.tap`)));
for (const name of missing) lines.push(`  ${name.padEnd(28)} no results: its test script wrote no TAP file`);
process.stdout.write(`\nTest results by workspace:\n${lines.join('\n')}\n\n`);
process.stdout.write(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
if (missing.length > 0) process.exitCode = 1;

/** Every workspace whose package.json has a test script, by package name. */
function workspacesWithTests(): string[] {
  const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    workspaces: string[];
  };
  const dirs = rootPackage.workspaces.flatMap((pattern) =>
    pattern.endsWith('/*')
      ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => join(pattern.slice(0, -2), e.name))
      : [pattern],
  );
  return dirs.flatMap((dir) => {
    const file = join(root, dir, 'package.json');
    if (!existsSync(file)) return [];
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; scripts?: Record<string, string> };
    return pkg.name !== undefined && pkg.scripts?.test !== undefined ? [pkg.name] : [];
  });
}
