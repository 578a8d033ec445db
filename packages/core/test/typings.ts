// shm-typed-array's own typing test (test/typings.ts), against @shm/core:
// compiled by `tsc --noEmit` under strict in this package's typecheck.
import * as shm from '@shm/core';

// @ts-expect-error count is required
shm.create();
// @ts-expect-error the result may be null
let fail1: Buffer = shm.create(1);
let pass1: shm.Shm<Buffer> | null = shm.create(1);

// @ts-expect-error the result may be null
let fail2: Uint32Array = shm.create(1, 'Uint32Array');
let pass2: shm.Shm<Uint32Array> | null = shm.create(1, 'Uint32Array');

let pass3: shm.Shm<Float64Array> | null = shm.create(456, 'Float64Array', 1234);
let pass4: shm.Shm<Float64Array> | null = shm.create(456, 'Float64Array', '/test');
let pass5: shm.Shm<Float64Array> | null = shm.create(456, 'Float64Array', '/test', '660');
let pass5b: shm.Shm<BigInt64Array> | null = shm.create(4, 'BigInt64Array');

// @ts-expect-error the result may be null
let fail3: Buffer = shm.get(123);
let pass6 = shm.get(123);
if (pass3) pass3.key as number;
if (pass6) pass6.readUInt8(0);

// @ts-expect-error the result may be null
let fail4: Float64Array = shm.get(456, 'Float64Array');
let pass7: shm.Shm<Float64Array> | null = shm.get(456, 'Float64Array');

// @ts-expect-error not a type key
shm.create(1, 'Float16Array');

// @ts-expect-error key is required
shm.detach();
shm.detach(123) as number;
shm.detach(123, true) as number;
shm.detach('/test') as number;
shm.detach('/test', true) as number;

// @ts-expect-error key is required
shm.destroy();
shm.destroy(123) as boolean;
shm.destroy('/test') as boolean;

shm.detachAll() as number;
shm.getTotalSize() as number;
shm.getTotalCreatedSize() as number;
shm.LengthMax as number;
shm.BufferType['Float32Array'] as number;
shm.BufferType['anything' as string] as number;
let map: shm.ShmMap['Int16Array'] = new Int16Array(1);

export { fail1, fail2, fail3, fail4, pass1, pass2, pass4, pass5, pass5b, pass7, map };
