/**
 * @shm/types: what every shm backend shares, one concept a file. Pure
 * TypeScript, no native code and no runtime dependency, so both backends
 * (and the umbrella) apply exactly the same rules.
 *
 *  - types.ts       the type keys and their tables, options, the ShmBackend interface
 *  - errors.ts      the table of coded errors and the one helper that builds them
 *  - validation.ts  argument rules
 *  - views.ts       the array views over a mapping's ArrayBuffer
 *  - cleanup.ts     cleanup steps that all run, and the process-wide signal cleanup
 *  - backend.ts     what each backend module exports beside its own calls
 */
export * from './types';
export * from './errors';
export * from './validation';
export * from './views';
export * from './cleanup';
export * from './backend';
