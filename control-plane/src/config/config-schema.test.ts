import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Compile } from 'typebox/compile';
import { checkProcessConfig } from '../process/process-config.ts';
import { parseConfigText } from './config-file.ts';
import { configSchemaDocument, configSchemaUrl } from './config-schema-json.ts';

const published = JSON.parse(readFileSync(configSchemaUrl(), 'utf8')) as Record<string, unknown>;
const guide = readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8');

/** The configuration examples of docs/config.md: its json blocks that name the schema. */
const examples = [...guide.matchAll(/```json\n([\s\S]*?)```/g)]
  .map((m) => m[1]!)
  .filter((text) => text.includes('"$schema"'));

describe('published configuration schema and guide', () => {
  it('docs/config.schema.json is the schema the loader checks (regenerate: node control-plane/src/config/write-config-schema.ts)', () => {
    assert.deepEqual(published, configSchemaDocument());
  });

  it('the guide has its examples', () => {
    assert.ok(examples.length >= 4, `found ${examples.length}`);
  });

  for (const [n, text] of examples.entries()) {
    it(`example ${n + 1} of docs/config.md passes the published schema and every check of espresso process`, async () => {
      const { $schema: _dialect, ...schema } = published;
      const checker = Compile(schema);
      assert.ok(checker.Check(JSON.parse(text)), JSON.stringify([...checker.Errors(JSON.parse(text))]));
      const config = await checkProcessConfig(parseConfigText(text, `example ${n + 1}`), `example ${n + 1}`);
      assert.ok(config.sas.length > 0);
    });
  }

  it('the published schema refuses what the loader refuses for its shape', () => {
    const { $schema: _dialect, ...schema } = published;
    const checker = Compile(schema);
    assert.equal(checker.Check({ sas: [], lokal: 1 }), false);
    assert.equal(checker.Check({ version: 2 }), false);
    assert.equal(checker.Check({ version: 1, sas: [] }), true);
  });
});
