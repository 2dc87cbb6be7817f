// The namespace rules moved below engine and checks (src/namespaces.ts); this path stays for the engine
// files that still import it (change capture and apply, rewritten in parallel).
export * from '../namespaces.js';
