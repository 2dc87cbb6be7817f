/**
 * Compares the index lists of a source and a destination collection by name and normalised spec.
 * Normalised: `v` (index format version, chosen by the server) and `ns` (pre-4.4) are dropped, the spec's
 * own fields are compared whatever their order, but the order inside `key` is kept: {a:1,b:1} and {b:1,a:1}
 * are different indexes.
 *
 * During sync the engine relaxes some indexes (unique ones built non-unique, TTL pushed to its maximum) and
 * restores them at cutover. A difference that is exactly such a relaxation is a note while the migration is
 * still running (`exact: false`) and a mismatch when the result must be exact (cutover, committed).
 */
import type { Document } from 'mongodb';
import { canonical } from '../../mongo/canonical.js';

export interface RelaxedIndex {
  /** Destination namespace, db.coll. */
  target: string;
  name: string;
}

export interface IndexDifference {
  kind: 'missing' | 'extra' | 'changed' | 'relaxed';
  name: string;
  detail: string;
}

const IGNORED = new Set(['v', 'ns']);
/** Fields the engine changes while relaxing an index. */
const RELAXED_FIELDS = new Set(['unique', 'expireAfterSeconds']);

/** Field name → comparable value text, `key` included, ignored fields left out. */
function normalise(spec: Document, without: ReadonlySet<string> = new Set()): Map<string, string> {
  const out = new Map<string, string>();
  for (const [field, value] of Object.entries(spec)) {
    if (IGNORED.has(field) || without.has(field)) continue;
    // unique: false is the same index as no unique field at all.
    if (field === 'unique' && value === false) continue;
    out.set(field, canonical(value));
  }
  return out;
}

function describeChanges(source: Map<string, string>, target: Map<string, string>): string[] {
  const fields = new Set([...source.keys(), ...target.keys()]);
  const changes: string[] = [];
  for (const field of [...fields].sort()) {
    const s = source.get(field);
    const t = target.get(field);
    if (s !== t) changes.push(`${field}: source ${s ?? '(absent)'}, destination ${t ?? '(absent)'}`);
  }
  return changes;
}

export function compareIndexes(sourceSpecs: Document[], targetSpecs: Document[], relaxed: ReadonlySet<string>): IndexDifference[] {
  const byName = (specs: Document[]): Map<string, Document> => new Map(specs.map((s) => [String(s.name), s]));
  const source = byName(sourceSpecs);
  const target = byName(targetSpecs);
  const differences: IndexDifference[] = [];
  for (const [name, spec] of source) {
    const other = target.get(name);
    if (!other) {
      differences.push({ kind: 'missing', name, detail: `index ${name} ${canonical(spec.key)} is missing on the destination` });
      continue;
    }
    const changes = describeChanges(normalise(spec), normalise(other));
    if (!changes.length) continue;
    const onlyRelaxation = relaxed.has(name) && describeChanges(normalise(spec, RELAXED_FIELDS), normalise(other, RELAXED_FIELDS)).length === 0;
    differences.push({
      kind: onlyRelaxation ? 'relaxed' : 'changed',
      name,
      detail: onlyRelaxation
        ? `index ${name} is still relaxed for the sync (${changes.join('; ')}); cutover restores it`
        : `index ${name} differs: ${changes.join('; ')}`,
    });
  }
  for (const [name, spec] of target) {
    if (!source.has(name)) differences.push({ kind: 'extra', name, detail: `index ${name} ${canonical(spec.key)} exists only on the destination` });
  }
  return differences;
}
