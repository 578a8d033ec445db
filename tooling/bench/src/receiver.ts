/**
 * The receiving process of section 2. Whatever way the bytes come, it reads
 * every one of them (checksum) and answers with the hash.
 * Messages:
 *   { op: 'attach', backend, key }      map the segment the sender writes into
 *   { op: 'check-shm' }                 hash the segment's bytes
 *   { op: 'check-message', data }       hash bytes that came in the message itself
 *   { op: 'connect', path, bytes }      connect to the sender's Unix socket; from
 *                                       then on, hash every `bytes` bytes that arrive
 */
import { connect } from 'node:net';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { checksum } from './checksum.js';

let segment: Uint8Array | null = null;

function handle(message: any): void {
  switch (message.op) {
    case 'attach':
      segment = message.backend === 'posix'
        ? posix.get(message.key, 'Uint8Array', { populate: true })
        : sysv.get(message.key, 'Uint8Array', { populate: true });
      process.send!({ attached: segment !== null });
      return;
    case 'check-shm':
      process.send!({ sum: checksum(segment!) });
      return;
    case 'check-message':
      process.send!({ sum: checksum(message.data) });
      return;
    case 'connect': {
      // The stream arrives in chunks; a receiver that wants the bytes in one
      // piece copies them into place, then reads them.
      const received = new Uint8Array(message.bytes);
      let filled = 0;
      const socket = connect(message.path, () => process.send!({ connected: true }));
      socket.on('data', (chunk: Buffer) => {
        let offset = 0;
        while (offset < chunk.length) {
          const take = Math.min(chunk.length - offset, received.length - filled);
          received.set(chunk.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
          if (filled === received.length) {
            process.send!({ sum: checksum(received) });
            filled = 0;
          }
        }
      });
      socket.on('error', (error) => process.send!({ error: String(error) }));
      return;
    }
    default:
      process.send!({ error: `unknown op ${message.op}` });
  }
}

process.on('message', (message) => {
  try {
    handle(message);
  } catch (error) {
    process.send!({ error: String((error as Error).stack ?? error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!('ready');
