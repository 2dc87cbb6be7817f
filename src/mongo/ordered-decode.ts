/**
 * Decoding of catalog metadata (index specs, collection options, DDL event descriptions) that keeps field order
 * where it carries meaning. A JS object lists integer-like names first: an index `{x: 1, "2024": 1}` decoded
 * into one and sent back creates `{"2024": 1, x: 1}`, another index; a view's `$sort` or `$project` changes the
 * same way. Here an embedded document holding such a name decodes as a Map in stored order, which the BSON
 * library encodes back in that order; every other document stays a plain object, so the usual case reads as
 * before. The top level is always an object: its names are the server's (key, name, options, ...).
 */
import type { BSON } from 'mongodb';
import { decodeElement, rawElements, type RawElement } from './raw-bson.js';

/** A decoded embedded document: a Map when it holds a name a JS object would move, else a plain object. */
export type OrderedDocument = BSON.Document | Map<string, unknown>;

/** Names JS objects order first (array indexes: canonical decimal integers below 2^32 - 1). */
export function movesInObject(name: string): boolean {
  if (!/^(0|[1-9]\d{0,9})$/.test(name)) return false;
  return Number(name) < 2 ** 32 - 1;
}

/** Decodes a raw document (the top level as an object) with the BSON options given, field order kept (see above). */
export function decodeOrdered(raw: Buffer, options: BSON.DeserializeOptions = {}): BSON.Document {
  const out: BSON.Document = {};
  for (const element of rawElements(raw)) out[element.name.toString('utf8')] = decodeValue(element, options);
  return out;
}

function decodeEmbedded(raw: Buffer, options: BSON.DeserializeOptions): OrderedDocument {
  const elements = [...rawElements(raw)];
  const names = elements.map((e) => e.name.toString('utf8'));
  if (names.some(movesInObject)) return new Map(elements.map((e, i) => [names[i]!, decodeValue(e, options)]));
  const out: BSON.Document = {};
  elements.forEach((e, i) => (out[names[i]!] = decodeValue(e, options)));
  return out;
}

function decodeValue(element: RawElement, options: BSON.DeserializeOptions): unknown {
  if (element.type === 0x03) return decodeEmbedded(element.value, options);
  if (element.type === 0x04) return [...rawElements(element.value)].map((e) => decodeValue(e, options));
  return decodeElement(element, options);
}

/** The fields of a decoded document, in order, whichever form it took. */
export function fieldsOf(doc: unknown): [string, unknown][] {
  if (doc instanceof Map) return [...(doc as Map<string, unknown>)];
  if (doc && typeof doc === 'object') return Object.entries(doc);
  return [];
}
