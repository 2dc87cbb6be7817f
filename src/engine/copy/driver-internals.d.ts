// The driver ships one rolled-up .d.ts; this internal module (used by raw-insert.ts) has no types of its own.
// Declared as unknown members on purpose: raw-insert.ts checks at run time that what it needs is there.
declare module 'mongodb/lib/cmap/commands.js' {
  export const DocumentSequence: unknown;
}
