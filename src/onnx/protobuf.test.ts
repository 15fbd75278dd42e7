import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgecnnError } from '../ir/errors.js';
import { ProtoReader, ProtoWriter, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from './protobuf.js';

function isBadModel(re: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof EdgecnnError, `expected EdgecnnError, got ${String(e)}`);
    assert.equal(e.code, 'bad-model');
    assert.match(e.message, re);
    return true;
  };
}

test('varints: known encodings of int32/int64 edge values', () => {
  // Expected bytes from the protobuf encoding spec: 300 = ac 02, -1 as int64/int32 = ten bytes ff..01.
  const w = new ProtoWriter()
    .int64(1, 300)
    .int64(2, -1)
    .int32(3, -1)
    .int64(4, 2 ** 53 - 1);
  const b = w.finish();
  assert.deepEqual([...b.subarray(0, 3)], [0x08, 0xac, 0x02]);
  assert.deepEqual([...b.subarray(3, 14)], [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  const r = ProtoReader.of(b, 'm');
  assert.ok(r.next());
  assert.equal(r.field, 1);
  assert.equal(r.wire, WIRE_VARINT);
  assert.equal(r.int64(), 300);
  r.next();
  assert.equal(r.int64(), -1);
  r.next();
  assert.equal(r.int32(), -1);
  r.next();
  assert.equal(r.int64(), 2 ** 53 - 1);
  assert.equal(r.next(), false);
});

test('varints: int64 extremes are exact as bigint and clamp as numbers', () => {
  const w = new ProtoWriter()
    .packedInt64Big(1, [0x7fffffffffffffffn, -0x8000000000000000n, -2n, 1n << 40n])
    .packedUint64Big(2, [0xffffffffffffffffn, 0n])
    .int64(3, 2 ** 63); // how INT64_MAX reads as a number; must be written back as INT64_MAX
  const r = ProtoReader.of(w.finish(), 'm');
  const big: bigint[] = [];
  r.next();
  r.repeatedVarint('a', (q) => big.push(q.int64Big()));
  assert.deepEqual(big, [0x7fffffffffffffffn, -0x8000000000000000n, -2n, 1n << 40n]);
  const ubig: bigint[] = [];
  r.next();
  r.repeatedVarint('b', (q) => ubig.push(q.uint64Big()));
  assert.deepEqual(ubig, [0xffffffffffffffffn, 0n]);
  r.next();
  assert.equal(r.int64Big(), 0x7fffffffffffffffn);
});

test('repeated scalars: packed and unpacked forms read the same', () => {
  const w = new ProtoWriter()
    .packedFloat32(1, [1.5, -2])
    .float32(1, 3.25)
    .packedInt64(2, [7, -9])
    .int64(2, 11)
    .packedFloat64(3, [0.1]);
  const r = ProtoReader.of(w.finish(), 'm');
  const fs: number[] = [];
  const is: number[] = [];
  const ds: number[] = [];
  while (r.next()) {
    if (r.field === 1) r.repeatedFloat32('f', fs);
    else if (r.field === 2) r.repeatedInt64('i', is);
    else if (r.field === 3) r.repeatedFloat64('d', ds);
  }
  assert.deepEqual(fs, [1.5, -2, 3.25]);
  assert.deepEqual(is, [7, -9, 11]);
  assert.deepEqual(ds, [0.1]);
});

test('embedded messages and large byte fields are zero-copy on read', () => {
  const big = new Uint8Array(1000).map((_, i) => i & 0xff);
  const inner = new ProtoWriter().string(1, 'héllo').bytes(2, big);
  const b = new ProtoWriter().message(5, inner).finish();
  const r = ProtoReader.of(b, 'm');
  r.next();
  assert.equal(r.wire, WIRE_LEN);
  const m = r.message('m.x');
  m.next();
  assert.equal(m.string('s'), 'héllo');
  m.next();
  const v = m.bytesView('b');
  assert.equal(v.buffer, b.buffer);
  assert.deepEqual(v, big);
});

test('skip handles every wire type', () => {
  const w = new ProtoWriter().int64(1, 5).float32(2, 1).string(3, 'x');
  const b = w.finish();
  // Append a fixed64 field (#4) by hand: the writer has no fixed64 scalar.
  const withI64 = new Uint8Array([...b, (4 << 3) | WIRE_I64, 1, 2, 3, 4, 5, 6, 7, 8, (5 << 3) | WIRE_VARINT, 42]);
  const r = ProtoReader.of(withI64, 'm');
  const wires: number[] = [];
  while (r.next()) {
    wires.push(r.wire);
    if (r.field === 5) assert.equal(r.int64(), 42);
    else r.skip();
  }
  assert.deepEqual(wires, [WIRE_VARINT, WIRE_I32, WIRE_LEN, WIRE_I64, WIRE_VARINT]);
});

test('bounds: lengths past the end, truncated varints and bad tags throw bad-model with the path', () => {
  // field 2 LEN claiming 100 bytes with 2 present
  const r1 = ProtoReader.of(new Uint8Array([0x12, 100, 1, 2]), 'graph.node[3]');
  r1.next();
  assert.throws(
    () => r1.bytesView('name'),
    isBadModel(/^graph\.node\[3\]: name: length 100 runs past end of data at byte 1/),
  );
  // varint cut in the middle
  const r2 = ProtoReader.of(new Uint8Array([0x08, 0xff, 0xff]), 'm');
  r2.next();
  assert.throws(() => r2.int64(), isBadModel(/varint runs past end/));
  // over-long varint (11 continuation bytes)
  const r3 = ProtoReader.of(new Uint8Array([0x08, ...new Array(11).fill(0xff), 1]), 'm');
  r3.next();
  assert.throws(() => r3.int64(), isBadModel(/longer than 10 bytes/));
  // field number 0 and group wire types
  assert.throws(() => ProtoReader.of(new Uint8Array([0x00, 0]), 'm').next(), isBadModel(/field number 0/));
  assert.throws(() => ProtoReader.of(new Uint8Array([0x0b]), 'm').next(), isBadModel(/wire type 3/));
  // a fixed32 with 2 bytes left
  const r4 = ProtoReader.of(new Uint8Array([0x15, 0, 0]), 'm');
  r4.next();
  assert.throws(() => r4.float32(), isBadModel(/4 bytes run past end of data at byte 1/));
  // a packed run whose last varint is cut by the packed length, not by the buffer end
  const r5 = ProtoReader.of(new Uint8Array([0x0a, 2, 1, 0x80, 1]), 'm');
  r5.next();
  assert.throws(() => r5.repeatedInt64('ints', []), isBadModel(/varint runs past end/));
  // a huge length must not allocate: it is rejected against the bytes left
  const r6 = ProtoReader.of(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'm');
  r6.next();
  assert.throws(() => r6.bytesView('raw_data'), isBadModel(/length 4294967295 runs past end/));
});

test('wire type mismatch on a known field is an error, not a misread', () => {
  const r = ProtoReader.of(new ProtoWriter().int64(1, 5).finish(), 'm');
  r.next();
  assert.throws(() => r.expect(WIRE_LEN, 'name'), isBadModel(/field name \(#1\) has wire type 0, expected 2/));
});
