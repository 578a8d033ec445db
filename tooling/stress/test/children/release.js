// Releasing many attachments of one name: release.js <POSIX name> <attachments>
// Maps that many attachments of one object, releases them with one
// detach(name), maps them again, drops them and lets the collector release
// them. Each release must cost the same however many attachments the name
// has; before the registry's lists were intrusive, every release walked the
// name's others, and 40,000 took 30 s through detach and 70 s through the
// collector. Reports { detached, collected, left }.
'use strict';
const v8 = require('node:v8');
const vm = require('node:vm');
const posix = require('@shm/posix');
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const [name, countText] = process.argv.slice(2);
const count = Number(countText);

async function main() {
  const creator = posix.create(4096, 'Uint8Array', name);
  let views = Array.from({ length: count }, () => posix.get(name));
  posix.detach(name);
  const detached = views.filter((view) => view.length === 0).length;
  // The detached ranges stay held until their finalizers run: let them, so
  // that the next 50,000 stay within the mapping budget.
  views = null;
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const again = posix.get(name);
  views = Array.from({ length: count }, () => posix.get(name));
  const mappedBeforeDrop = posix.getTotalSize();
  views = null;
  while (posix.getTotalSize() > again.length) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const left = posix.getTotalSize();
  const collected = (mappedBeforeDrop - left) / 4096;
  posix.destroy(name);
  process.send({ detached, collected, left, creatorNeutered: creator.length === 0 }, () => process.exit(0));
}
main();
