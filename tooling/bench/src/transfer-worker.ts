/** The receiving worker thread of section 2: hashes every array it is sent and answers with the hash. */
import { parentPort } from 'node:worker_threads';
import { checksum } from './checksum.js';

parentPort!.on('message', (bytes: Uint8Array) => parentPort!.postMessage(checksum(bytes)));
