/**
 * The receiver's proof that it read every byte: a hash of the whole payload,
 * order-sensitive (a chunk delivered twice or out of place changes it).
 */

/**
 * Reads every byte of `bytes` once, as little-endian 32-bit words (the tail
 * byte by byte). Where the bytes are not 4-aligned, the words are put together
 * from bytes, which gives the same hash more slowly.
 */
export function checksum(bytes: Uint8Array): number {
  let hash = 0;
  const wordCount = bytes.byteLength >>> 2;
  if (bytes.byteOffset % 4 === 0) {
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, wordCount);
    for (let word = 0; word < wordCount; word++) hash = (Math.imul(hash, 31) + words[word]) | 0;
  } else {
    for (let index = 0; index < wordCount * 4; index += 4) {
      const word = bytes[index] | (bytes[index + 1] << 8) | (bytes[index + 2] << 16) | (bytes[index + 3] << 24);
      hash = (Math.imul(hash, 31) + word) | 0;
    }
  }
  for (let index = wordCount * 4; index < bytes.byteLength; index++) hash = (Math.imul(hash, 31) + bytes[index]) | 0;
  return hash;
}

/** `bytes` filled with reproducible pseudo-random data (xorshift32). */
export function fillPseudoRandom(bytes: Uint8Array, seed = 0x9e3779b9): void {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  let state = seed >>> 0 || 1;
  for (let word = 0; word < words.length; word++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[word] = state >>> 0;
  }
  for (let index = words.length * 4; index < bytes.byteLength; index++) bytes[index] = index & 0xff;
}
