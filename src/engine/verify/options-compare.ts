/**
 * Compares what `listCollections` says of a source and a destination collection: its `type` (collection,
 * view, timeseries) and every field of `options` (validator, validationLevel/Action, collation, capped, size,
 * max, clusteredIndex, timeseries, expireAfterSeconds, viewOn, pipeline, changeStreamPreAndPostImages,
 * storageEngine, indexOptionDefaults, ... — whatever the server reports, so new options are not missed).
 * A view's `viewOn` names a collection of its own database; when that collection was renamed by the
 * migration, the destination view must name the renamed collection, so the source value is mapped first.
 */
import type { Document } from 'mongodb';
import type { CollectionInfo } from '../../mongo/introspection.js';
import { canonical } from '../../mongo/canonical.js';

export interface OptionDifference {
  option: string;
  source: string;
  destination: string;
}

/**
 * Options whose absence means the server default: `collMod` writes them out explicitly (setting
 * validationLevel also stores validationAction: "error"), so an explicit default equals an absent option.
 */
const DEFAULTS: Readonly<Record<string, unknown>> = { validationLevel: 'strict', validationAction: 'error' };

function valueText(options: Document, option: string): string {
  if (option in options) return canonical(options[option]);
  return option in DEFAULTS ? canonical(DEFAULTS[option]) : '(absent)';
}

/**
 * @param mapViewOn turns a source view's `viewOn` (a collection of the source database) into the name the
 *   destination view must use.
 */
export function compareOptions(source: CollectionInfo, target: CollectionInfo, mapViewOn: (viewOn: string) => string): OptionDifference[] {
  const differences: OptionDifference[] = [];
  if (source.type !== target.type) differences.push({ option: 'type', source: source.type, destination: target.type });
  const expected: Document = { ...source.options };
  if (typeof expected.viewOn === 'string') expected.viewOn = mapViewOn(expected.viewOn);
  const names = new Set([...Object.keys(expected), ...Object.keys(target.options)]);
  for (const option of [...names].sort()) {
    const s = valueText(expected, option);
    const t = valueText(target.options, option);
    if (s !== t) differences.push({ option, source: s, destination: t });
  }
  return differences;
}
