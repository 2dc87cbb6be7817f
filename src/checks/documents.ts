import { BSON, type Document } from 'mongodb';
import { fail, listSome, pass, plural, warn, type Check, type Finding } from './types.js';

/** Documents sampled per collection: enough to find a habit of the application, bounded in time. */
export const SAMPLE_PER_COLLECTION = 1000;

export interface FieldNameFinding {
  namespace: string;
  sampled: number;
  /** Documents with a top-level field starting with '$': a replace (how changes are replayed) rejects them. */
  dollarTopLevel: number;
  /** Documents with '$'-prefixed or dotted field names anywhere else: stored fine, but awkward; reported. */
  unusual: number;
  exampleId?: string;
}

/** Pure: scans one document's field names. */
export function scanFieldNames(doc: Document): { dollarTopLevel: boolean; unusual: boolean } {
  let dollarTopLevel = false;
  let unusual = false;
  const walk = (value: unknown, top: boolean): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v, false);
      return;
    }
    if (!value || typeof value !== 'object' || (value as { _bsontype?: string })._bsontype || value instanceof Date) return;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (key.startsWith('$') && top) dollarTopLevel = true;
      else if (key.startsWith('$') || key.includes('.')) unusual = true;
      walk(child, false);
    }
  };
  walk(doc, true);
  return { dollarTopLevel, unusual };
}

export function assessFieldNames(findings: FieldNameFinding[]): Finding {
  const sampled = findings.reduce((s, f) => s + f.sampled, 0);
  const dollar = findings.filter((f) => f.dollarTopLevel > 0);
  const unusual = findings.filter((f) => f.unusual > 0);
  const describe = (f: FieldNameFinding, count: number): string => `${f.namespace}: ${count} of ${f.sampled} sampled, e.g. _id ${f.exampleId ?? '?'}`;
  if (dollar.length) {
    return fail(
      `top-level field names starting with "$" in ${plural(dollar.length, 'collection')} (${listSome(dollar.map((f) => describe(f, f.dollarTopLevel)))}): changes to them cannot be replayed (a replace rejects such fields)`,
      'rename those fields in the application and the data before migrating, or exclude the collections',
    );
  }
  if (unusual.length) {
    return warn(
      `field names with "." or a leading "$" below the top level in ${plural(unusual.length, 'collection')} (${listSome(unusual.map((f) => describe(f, f.unusual)))})`,
      'they are copied as they are, but queries and updates cannot address them with dotted paths; consider renaming them',
    );
  }
  return pass(`${plural(sampled, 'document')} sampled in ${plural(findings.length, 'collection')}: no field name starts with "$" or contains "."`);
}

export const fieldNamesCheck: Check = {
  id: 'documents.field-names',
  title: 'Field names the engine can replay',
  needs: ['source'],
  async run(context) {
    const client = context.facts.client('source');
    const findings: FieldNameFinding[] = [];
    for (const n of await context.facts.includedNamespaces()) {
      if (n.info.type !== 'collection') continue;
      const docs = await client.db(n.db).collection(n.coll).aggregate([{ $sample: { size: SAMPLE_PER_COLLECTION } }]).toArray();
      const f: FieldNameFinding = { namespace: `${n.db}.${n.coll}`, sampled: docs.length, dollarTopLevel: 0, unusual: 0 };
      for (const doc of docs) {
        const r = scanFieldNames(doc);
        if (r.dollarTopLevel) f.dollarTopLevel++;
        if (r.unusual) f.unusual++;
        if ((r.dollarTopLevel || r.unusual) && f.exampleId === undefined) f.exampleId = BSON.EJSON.stringify(doc._id, { relaxed: true }).slice(0, 60);
      }
      findings.push(f);
    }
    return assessFieldNames(findings);
  },
};
