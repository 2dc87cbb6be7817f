import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const schema = JSON.parse(readFileSync('schemas/migration.schema.json', 'utf8')) as { $id: string; properties: Record<string, { properties?: Record<string, { description?: string }> }> };
const example = readFileSync('examples/migration.yaml', 'utf8');

// What an editor (yaml-language-server) does: validate the file as written, ${VARS} unsubstituted.
describe('schemas/migration.schema.json in an editor', () => {
  it('accepts examples/migration.yaml as written', () => {
    const validate = new Ajv2020({ allErrors: true, strict: true, strictTypes: false }).compile(schema);
    const ok = validate(parse(example));
    expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('has a stable absolute $id, and the example points its editor at that URL', () => {
    expect(schema.$id).toBe('https://raw.githubusercontent.com/mongo-live-migrate/mongo-live-migrate/v1/schemas/migration.schema.json');
    expect(example.split('\n')[0]).toBe(`# yaml-language-server: $schema=${schema.$id}`);
  });

  it('names the right variable for each side', () => {
    expect(schema.properties.source?.properties?.uri?.description).toContain('${SOURCE_URI}');
    expect(schema.properties.destination?.properties?.uri?.description).toContain('${DESTINATION_URI}');
    expect(schema.properties.destination?.properties?.uri?.description).not.toContain('SOURCE_URI');
  });
});
