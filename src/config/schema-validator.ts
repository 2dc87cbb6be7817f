import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import schema from '../../schemas/migration.schema.json' with { type: 'json' };

// Compiled once per process: ajv compilation costs milliseconds, validation microseconds.
const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: true, strictTypes: false, verbose: true });
const validateSchema = ajv.compile(schema);

export { schema as migrationSchema };

/** Validates in place (defaults are filled in) and returns ajv's errors, empty when valid. */
export function validateAgainstSchema(value: unknown): ErrorObject[] {
  return validateSchema(value) ? [] : [...(validateSchema.errors ?? [])];
}

const PATTERN_HINTS: Record<string, string> = {
  '/name': 'lowercase letters, digits and dashes, starting and ending with a letter or digit, at most 63 characters',
  '/source/uri': 'a mongodb:// or mongodb+srv:// connection string',
  '/destination/uri': 'a mongodb:// or mongodb+srv:// connection string',
  '/tail/maxDuration': 'a duration such as 5h30m, 45m or 90s',
};

/** Turns one ajv error into a sentence that says what is expected; never repeats the value (it may be secret). */
export function describeSchemaError(error: ErrorObject): { pointer: string; key: boolean; message: string } {
  const at = error.instancePath;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const allowed = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return {
        pointer: `${at}/${name}`,
        key: true,
        message: `unknown key "${name}"${allowed.length ? `; expected one of: ${allowed.join(', ')}` : ''}`,
      };
    }
    case 'required':
      return { pointer: at, key: false, message: `missing required key "${String(params.missingProperty)}"` };
    case 'type':
      return { pointer: at, key: false, message: `expected ${String(params.type)}` };
    case 'enum':
      return { pointer: at, key: false, message: `expected one of: ${(params.allowedValues as unknown[]).join(', ')}` };
    case 'const':
      return { pointer: at, key: false, message: `expected ${JSON.stringify(params.allowedValue)}` };
    case 'pattern': {
      const hint = PATTERN_HINTS[at] ?? patternHint(at);
      return { pointer: at, key: false, message: `expected ${hint}` };
    }
    case 'propertyNames':
      return { pointer: at, key: false, message: 'rename keys must be "database" or "database.collection" without wildcards' };
    default:
      return { pointer: at, key: false, message: error.message ?? `fails ${error.keyword}` };
  }
}

function patternHint(pointer: string): string {
  if (/^\/namespaces\/(include|exclude)\//.test(pointer)) return 'a "database.collection" pattern (wildcards * and ?)';
  if (pointer.startsWith('/namespaces/rename/')) return 'a "database" or "database.collection" name without wildcards';
  return 'a value of the documented form';
}
