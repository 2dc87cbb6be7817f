// The model moved below engine and report (src/model.ts); this path stays for the files that still import it.
export type * from '../model.js';
