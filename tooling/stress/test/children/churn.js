// Churn: churn.js <module> <key as JSON> <rounds>
// Each round: create a 4 KiB segment, get a second attachment, write through
// one and read through the other, destroy. Reports the resident memory
// growth after a warm-up, and the books at the end.
//
// What is measured is the process's anonymous and shared-memory pages
// (RssAnon + RssShmem of /proc/self/status): where a leak of ours would show
// (records, buffers, mappings). File pages are left out: they are the node
// binary's code, paged in as the optimizing compiler first runs. The warm-up
// is as long as it takes every supported Node line to reach its plateau
// (JIT code, heap reservations, allocator arenas): measured at 10,000-round
// steps, Node 22, 24 and 26 grow 6-8 MiB in the first 20,000 rounds and then
// stay within 1 MiB for the next 80,000.
'use strict';
const v8 = require('node:v8');
const vm = require('node:vm');
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const [moduleName, keyText, roundsText] = process.argv.slice(2);
const backend = require(moduleName);
const key = JSON.parse(keyText);
const rounds = Number(roundsText);
const WARM_UP = 20000;

function residentBytes() {
  const status = require('node:fs').readFileSync('/proc/self/status', 'utf8');
  const kib = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)[1]);
  return (kib('RssAnon') + kib('RssShmem')) * 1024;
}

function round(index) {
  const created = backend.create(512, 'Float64Array', key);
  const attached = backend.get(key, 'Float64Array');
  created[index % 512] = index;
  if (attached[index % 512] !== index) throw new Error(`round ${index}: the second attachment did not see the write`);
  if (!backend.destroy(key)) throw new Error(`round ${index}: destroy failed`);
  if (created.length !== 0 || attached.length !== 0) throw new Error(`round ${index}: views not neutered`);
}

/** Lets the finalizers of neutered buffers run, and collects. */
async function settle() {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function main() {
  for (let i = 0; i < WARM_UP; i++) round(i);
  await settle();
  const rssBefore = residentBytes();
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    round(i);
    if (i % 5000 === 4999) await new Promise((resolve) => setImmediate(resolve));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await settle();
  const rssGrowth = residentBytes() - rssBefore;
  process.send(
    { rounds, seconds, rssGrowth, totalSize: backend.getTotalSize(), createdSize: backend.getTotalCreatedSize() },
    () => process.exit(0),
  );
}
main();
