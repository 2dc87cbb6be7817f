import { Decimal128, Double, Int32, Long, ObjectId, type Document, type IndexDescription, type MongoClient } from 'mongodb';
import { seededRandom as prng } from '../seeded-random.js';

/**
 * The demo's dataset: three databases shaped like a small company's (a shop, a CRM, product analytics) with
 * the features a migration has to carry exactly — unique, compound and TTL indexes, a view, a capped and a
 * clustered collection, a validator, a collation, and exact BSON types (Decimal128 prices, Int32 and Int64
 * counters, dates, doubles). Deterministic (seeded PRNG), so two runs seed the same bytes.
 */

export interface SeedOptions {
  /** Documents in all, split across the collections in fixed shares (at least 1 per collection). */
  documents: number;
  /** Documents per insertMany. */
  batchSize?: number;
  signal?: AbortSignal;
}

/** What the live writer needs from the seed: ids it may update or delete, per collection. */
export interface SeedResult {
  documents: number;
  collections: number;
  views: number;
  indexes: number;
  byNamespace: Record<string, number>;
  orderIds: ObjectId[];
  contactIds: ObjectId[];
  durationMs: number;
}

export const DEMO_DATABASES = ['shop', 'crm', 'analytics'] as const;

/** Share of the documents each collection gets (sums to 1). */
const SHARES = {
  'shop.customers': 0.1,
  'shop.products': 0.02,
  'shop.orders': 0.45,
  'shop.carts': 0.03,
  'crm.contacts': 0.15,
  'analytics.events': 0.23,
  'analytics.audit_log': 0.02,
} as const;
type SeededNamespace = keyof typeof SHARES;

/** How many ids of each kind the writer gets to update and delete (it never needs all of them). */
const SAMPLE_IDS = 5000;
const DAY_MS = 86_400_000;
/** A fixed "now" for the seeded history, so the data is the same on every run; TTL dates are made from the real clock. */
const EPOCH = Date.UTC(2026, 10, 1);

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken', 'Frances', 'John', 'Radia', 'Tim', 'Sophie', 'Linus', 'Hedy', 'Niklaus'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson', 'Allen', 'Backus', 'Perlman', 'Berners-Lee', 'Wilson', 'Torvalds', 'Lamarr', 'Wirth'];
const CITIES: [string, string][] = [['Berlin', 'DE'], ['Lyon', 'FR'], ['Porto', 'PT'], ['Austin', 'US'], ['Osaka', 'JP'], ['Leeds', 'GB'], ['Turin', 'IT'], ['Ghent', 'BE']];
const CATEGORIES = ['books', 'audio', 'garden', 'kitchen', 'toys', 'tools', 'sports', 'office'];
const STATUSES = ['pending', 'paid', 'shipped', 'delivered', 'returned'];
const EVENT_TYPES = ['page_view', 'search', 'add_to_cart', 'checkout', 'signup', 'login'];
const COMPANIES = ['Initech', 'Globex', 'Umbrella', 'Hooli', 'Vandelay', 'Stark', 'Wonka', 'Acme'];

/** An ObjectId made from a time and a counter, so seeded ids are reproducible and ordered by time. */
function objectId(atMs: number, counter: number, salt: number): ObjectId {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt32BE(Math.floor(atMs / 1000), 0);
  bytes.writeUInt32BE(salt, 4);
  bytes.writeUInt32BE(counter, 8);
  return new ObjectId(bytes);
}

export function money(cents: number): Decimal128 {
  return Decimal128.fromString((cents / 100).toFixed(2));
}

/** Per-collection document counts for a total (each collection gets at least one). */
export function seedCounts(total: number): Record<SeededNamespace, number> {
  const counts = {} as Record<SeededNamespace, number>;
  for (const [ns, share] of Object.entries(SHARES) as [SeededNamespace, number][]) counts[ns] = Math.max(1, Math.floor(total * share));
  // The rounding remainder goes to the largest collection so the total is exact.
  counts['shop.orders'] += Math.max(0, total - Object.values(counts).reduce((s, n) => s + n, 0));
  return counts;
}

/**
 * Creates every collection once, with its options (never two creations of one namespace at once: that
 * crashes mongod under Wine), then fills them with unordered batches, a few collections at a time, and
 * builds the indexes last (cheaper than maintaining them while inserting).
 */
export async function seedDemoData(client: MongoClient, options: SeedOptions): Promise<SeedResult> {
  const started = Date.now();
  const counts = seedCounts(options.documents);
  const batchSize = options.batchSize ?? 5000;
  const shop = client.db('shop');
  const crm = client.db('crm');
  const analytics = client.db('analytics');

  await shop.createCollection('customers');
  await shop.createCollection('products', {
    // A validator the copy must carry (and bypass while copying).
    validator: {
      $jsonSchema: {
        bsonType: 'object',
        required: ['sku', 'name', 'price', 'stock'],
        properties: { sku: { bsonType: 'string' }, price: { bsonType: 'decimal' }, stock: { bsonType: 'int', minimum: 0 } },
      },
    },
    validationLevel: 'strict',
  });
  await shop.createCollection('orders');
  await shop.createCollection('carts');
  await crm.createCollection('contacts', { collation: { locale: 'en', strength: 2 } });
  // The clustered index keeps its default name (_id_): the engine's index copy skips only that name, and a
  // custom-named clustered index would be re-created with createIndexes (see the demo's notes).
  await analytics.createCollection('events', { clusteredIndex: { key: { _id: 1 }, unique: true } });
  await analytics.createCollection('audit_log', { capped: true, size: 64 * 1024 * 1024 });

  const random = prng(20261124);
  const customerIds = Array.from({ length: counts['shop.customers'] }, (_, i) => objectId(EPOCH - 400 * DAY_MS + i * 1000, i, 0xc0570000));
  const skus = Array.from({ length: counts['shop.products'] }, (_, i) => `SKU-${String(i + 1).padStart(6, '0')}`);
  const prices = skus.map(() => 199 + Math.floor(random() * 25_000));
  const orderIds: ObjectId[] = [];
  const contactIds: ObjectId[] = [];

  const generators: Record<SeededNamespace, (i: number) => Document> = {
    'shop.customers': (i) => {
      const [city, country] = CITIES[i % CITIES.length]!;
      return {
        _id: customerIds[i],
        email: `customer${i}@example.com`,
        name: `${FIRST[i % FIRST.length]} ${LAST[Math.floor(i / FIRST.length) % LAST.length]}`,
        address: { street: `${1 + (i % 200)} Main Street`, city, country },
        tier: i % 10 === 0 ? 'gold' : 'standard',
        loyaltyPoints: new Int32(Math.floor(random() * 5000)),
        createdAt: new Date(EPOCH - 400 * DAY_MS + i * 1000),
      };
    },
    'shop.products': (i) => ({
      _id: objectId(EPOCH - 500 * DAY_MS, i, 0x9d0d0000),
      sku: skus[i],
      name: `${CATEGORIES[i % CATEGORIES.length]} item ${i + 1}`,
      category: CATEGORIES[i % CATEGORIES.length],
      price: money(prices[i]!),
      stock: new Int32(Math.floor(random() * 400)),
      weightKg: new Double(Math.round(random() * 5000) / 1000),
      tags: [CATEGORIES[i % CATEGORIES.length], i % 3 === 0 ? 'sale' : 'regular'],
    }),
    'shop.orders': (i) => {
      const createdAt = EPOCH - Math.floor(random() * 365 * DAY_MS);
      const lines = 1 + Math.floor(random() * 3);
      let totalCents = 0;
      const items = Array.from({ length: lines }, () => {
        const p = Math.floor(random() * skus.length);
        const qty = 1 + Math.floor(random() * 4);
        totalCents += prices[p]! * qty;
        return { sku: skus[p], qty: new Int32(qty), price: money(prices[p]!) };
      });
      const id = objectId(createdAt, i, 0x0dde0000);
      if (orderIds.length < SAMPLE_IDS) orderIds.push(id);
      return {
        _id: id,
        customerId: customerIds[Math.floor(random() * customerIds.length)],
        status: STATUSES[Math.floor(random() * STATUSES.length)],
        items,
        total: money(totalCents),
        currency: 'EUR',
        createdAt: new Date(createdAt),
      };
    },
    'shop.carts': (i) => ({
      _id: objectId(EPOCH, i, 0xca270000),
      customerId: customerIds[i % customerIds.length],
      items: [{ sku: skus[i % skus.length], qty: new Int32(1) }],
      // TTL in the future (days, not seconds): nothing expires during the demo, yet the index is a real TTL.
      expiresAt: new Date(Date.now() + (1 + (i % 7)) * DAY_MS),
    }),
    'crm.contacts': (i) => {
      const id = objectId(EPOCH - 200 * DAY_MS + i * 1000, i, 0xc2300000);
      if (contactIds.length < SAMPLE_IDS) contactIds.push(id);
      const first = FIRST[i % FIRST.length]!;
      const last = LAST[Math.floor(i / FIRST.length) % LAST.length]!;
      return {
        _id: id,
        // Mixed case on purpose: the collection's case-insensitive collation makes the unique index see through it.
        email: `${first}.${last}.${i}@Example.org`,
        firstName: first,
        lastName: last,
        company: COMPANIES[i % COMPANIES.length],
        crmId: Long.fromNumber(9_000_000_000 + i),
        score: new Double(Math.round(random() * 1000) / 10),
        lastContactAt: new Date(EPOCH - Math.floor(random() * 90 * DAY_MS)),
      };
    },
    'analytics.events': (i) => {
      const at = EPOCH - 30 * DAY_MS + i * 7000;
      return {
        _id: objectId(at, i, 0xe7e70000),
        type: EVENT_TYPES[Math.floor(random() * EVENT_TYPES.length)],
        userId: customerIds[Math.floor(random() * customerIds.length)],
        at: new Date(at),
        durationMs: new Double(Math.round(random() * 300_000) / 100),
        props: { path: `/p/${Math.floor(random() * 500)}`, referrer: i % 4 === 0 ? 'search' : 'direct' },
      };
    },
    'analytics.audit_log': (i) => ({
      _id: objectId(EPOCH - DAY_MS + i * 1000, i, 0xa0d10000),
      actor: `admin${i % 5}`,
      action: i % 2 ? 'price.update' : 'stock.adjust',
      at: new Date(EPOCH - DAY_MS + i * 1000),
    }),
  };

  // Fill: generation is sequential (one PRNG), inserts overlap with generating the next batch.
  for (const ns of Object.keys(SHARES) as SeededNamespace[]) {
    const [db, coll] = ns.split('.') as [string, string];
    const collection = client.db(db).collection(coll);
    let pending: Promise<unknown> | undefined;
    for (let start = 0; start < counts[ns]; start += batchSize) {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      const batch = Array.from({ length: Math.min(batchSize, counts[ns] - start) }, (_, k) => generators[ns](start + k));
      await pending;
      pending = collection.insertMany(batch, { ordered: false });
    }
    await pending;
  }

  const indexes: [string, string, IndexDescription[]][] = [
    ['shop', 'customers', [{ key: { email: 1 }, name: 'email_unique', unique: true }, { key: { 'address.country': 1, tier: 1 }, name: 'country_tier' }]],
    ['shop', 'products', [{ key: { sku: 1 }, name: 'sku_unique', unique: true }, { key: { category: 1, price: -1 }, name: 'category_price' }]],
    ['shop', 'orders', [{ key: { customerId: 1, createdAt: -1 }, name: 'customer_recent' }, { key: { status: 1, createdAt: -1 }, name: 'status_recent' }]],
    ['shop', 'carts', [{ key: { expiresAt: 1 }, name: 'expires_ttl', expireAfterSeconds: 0 }]],
    ['crm', 'contacts', [{ key: { email: 1 }, name: 'email_unique', unique: true }, { key: { company: 1, lastName: 1, firstName: 1 }, name: 'company_name' }]],
    ['analytics', 'events', [{ key: { type: 1, at: -1 }, name: 'type_at' }]],
  ];
  let indexCount = 0;
  for (const [db, coll, specs] of indexes) {
    await client.db(db).collection(coll).createIndexes(specs);
    indexCount += specs.length;
  }
  // A view the destination must recreate over its own copy of orders.
  await shop.createCollection('shipped_orders', { viewOn: 'orders', pipeline: [{ $match: { status: 'shipped' } }, { $project: { customerId: 1, total: 1, createdAt: 1 } }] });

  return {
    documents: Object.values(counts).reduce((s, n) => s + n, 0),
    collections: Object.keys(SHARES).length,
    views: 1,
    indexes: indexCount,
    byNamespace: { ...counts },
    orderIds,
    contactIds,
    durationMs: Date.now() - started,
  };
}
