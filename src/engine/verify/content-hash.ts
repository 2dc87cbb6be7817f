/**
 * Order-independent content hashes of one collection.
 *
 * Server-side: `dbHash` with `collections: [name]` returns an md5 of the collection's documents read in _id
 * order (checked on 7.0: plain, capped and clustered collections alike; views and time-series collections are
 * left out of its answer), so insertion order does not matter. It holds a shared lock on the database while it
 * reads, which briefly stalls writes to that database; verification accepts that (it is what cutover runs
 * while writes are blocked anyway). Atlas shared tiers and users without the dbHash privilege refuse it.
 *
 * Client-side fallback: every document is read as raw BSON bytes (raw-cursor.ts: the reply's documents as Buffers,
 * nothing decoded, so no type is changed), hashed with sha256, and the digests are summed modulo 2^256. Addition
 * is commutative, so the order documents arrive in does not matter; memory is one reply of about 4 MB plus 32
 * bytes. Time-series collections are always hashed this way, each measurement with its fields in name order (see
 * compare-collection.ts).
 */
import { createHash } from 'node:crypto';
import type { Db, Document, MongoClient } from 'mongodb';
import { scrub } from '../../redact.js';
import { RawBatchCursor } from '../copy/raw-cursor.js';

/** Sum of sha256 digests modulo 2^256, kept as eight 32-bit little-endian words, plus a count. */
export class OrderIndependentHash {
  private readonly words = new Uint32Array(8);
  count = 0;

  add(bytes: Uint8Array): void {
    const digest = createHash('sha256').update(bytes).digest();
    let carry = 0;
    for (let i = 0; i < 8; i++) {
      const sum = this.words[i]! + digest.readUInt32LE(i * 4) + carry;
      this.words[i] = sum >>> 0;
      carry = sum > 0xffffffff ? 1 : 0;
    }
    this.count++;
  }

  hex(): string {
    return Buffer.from(this.words.buffer, this.words.byteOffset, this.words.byteLength).toString('hex');
  }
}

export interface HashResult {
  hash: string;
  /** Documents hashed (client-side only). */
  count?: number;
}

/** One side's collection, as the client-side hash and find-differences read it. */
export interface CollectionOnSide {
  client: MongoClient;
  db: string;
  coll: string;
}

export interface ClientSideHashOptions {
  signal?: AbortSignal;
  /** Documents per reply at most (small documents); replies also end at ~4 MB. */
  batchSize?: number;
  normalise?: (doc: Buffer) => Uint8Array;
  /** The read's concern; majority-committed data when absent (a rehearsal reads a snapshot at its time T). */
  readConcern?: Document;
}

/** The reply a read of the client-side hash aims at (raw-cursor.ts readSize); small documents stop at `batchSize`. */
const HASH_REPLY_BYTES = 4 * 1024 * 1024;

/**
 * Streams a collection as raw BSON and hashes it; never holds more than one reply of ~4 MB. Before, the driver's
 * cursor asked for 1,000 documents a reply (16 MB ones with documents of 16 KB or more) and walked each document
 * element by element to hand back its bytes.
 * @param normalise maps each document's bytes before hashing (time-series: fields in name order).
 */
export async function clientSideHash(side: CollectionOnSide, options: ClientSideHashOptions = {}): Promise<HashResult> {
  const { signal, normalise, readConcern } = options;
  const acc = new OrderIndependentHash();
  const cursor = RawBatchCursor.find(side.client, side.db, side.coll, { filter: {}, sort: {}, batchSize: options.batchSize ?? 10_000, replyBytes: HASH_REPLY_BYTES, ...(readConcern ? { readConcern } : {}) });
  try {
    for (let docs = await cursor.next(); docs; docs = await cursor.next()) {
      signal?.throwIfAborted();
      for (const raw of docs) acc.add(normalise ? normalise(raw) : raw);
    }
  } finally {
    await cursor.close().catch(() => undefined);
  }
  return { hash: acc.hex(), count: acc.count };
}

export type DbHashAnswer = { ok: true; hash: string } | { ok: false; reason: string };

/** The server's md5 of one collection, or why the server would not give it. */
export async function serverSideHash(db: Db, collection: string): Promise<DbHashAnswer> {
  let reply: Document;
  try {
    reply = await db.command({ dbHash: 1, collections: [collection] });
  } catch (error) {
    const e = error as { codeName?: string; message?: string };
    return { ok: false, reason: scrub(firstLine(e.codeName ?? e.message ?? String(error))) };
  }
  const hash = (reply.collections as Record<string, unknown> | undefined)?.[collection];
  if (typeof hash !== 'string') return { ok: false, reason: 'dbHash left the collection out of its answer' };
  return { ok: true, hash };
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? text).slice(0, 200);
}
