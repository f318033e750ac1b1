import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { configSchemaDocument, configSchemaUrl } from './config-schema-json.ts';

/**
 * Regenerates docs/config.schema.json from the typebox schema, formatted as the repository formats JSON:
 *   node control-plane/src/config/write-config-schema.ts
 * A test fails while the published file says something else than the schema the code checks.
 */
const target = configSchemaUrl();
writeFileSync(target, `${JSON.stringify(configSchemaDocument(), null, 2)}\n`);
execFileSync(new URL('../../../node_modules/.bin/biome', import.meta.url).pathname, [
  'format',
  '--write',
  target.pathname,
]);
process.stdout.write(`wrote ${target.pathname}\n`);
