// Torn-write detection over a Uint32Array shared by several writers and
// readers. Writers store values whose high and low 16 bits are equal; a
// reader that sees halves that differ has seen a torn write.
//
// Cell 0 is a start barrier: every party counts itself in and waits until all
// have, so that they really run at the same time (starting a process takes
// far longer than the loop). The data cells start at DATA_OFFSET.
'use strict';
const DATA_OFFSET = 16;
const pause = new Int32Array(new SharedArrayBuffer(4));

function writer(data, iterations, seed) {
  for (let i = 0; i < iterations; i++) {
    const half = (seed + i) & 0xffff;
    data[i % data.length] = ((half << 16) | half) >>> 0;
  }
  return 0;
}

// The control: the same values stored as two separate 16-bit halves, which a
// reader can catch half-done. It proves the reader would see tearing.
function splitWriter(data, iterations, seed) {
  const halves = new Uint16Array(data.buffer, data.byteOffset, data.length * 2);
  for (let i = 0; i < iterations; i++) {
    const half = (seed + i) & 0xffff;
    const cell = i % data.length;
    halves[2 * cell] = half;
    halves[2 * cell + 1] = half;
  }
  return 0;
}

function reader(data, iterations) {
  let torn = 0;
  for (let i = 0; i < iterations; i++) {
    const value = data[i % data.length];
    if (value >>> 16 !== (value & 0xffff)) torn++;
  }
  return torn;
}

/** Waits for `parties` at the barrier, then plays `role`; returns the torn values seen. */
exports.run = function run(view, role, iterations, seed, parties) {
  Atomics.add(view, 0, 1);
  while (Atomics.load(view, 0) < parties) Atomics.wait(pause, 0, 0, 1);
  const data = view.subarray(DATA_OFFSET);
  if (role === 'writer') return writer(data, iterations, seed);
  if (role === 'split-writer') return splitWriter(data, iterations, seed);
  return reader(data, iterations);
};
