/**
 * fflate's zipSync with the DEFLATE of each entry remembered by content. Most of an EPUB's
 * packaging time is spent compressing (images, the chapters at level 9); after one chapter
 * edit only that chapter and the few generated files change.
 *
 * The archive is still written by zipSync itself: the compressed bytes are given to it as
 * stored entries, then the method, CRC and size fields of their headers are patched to what
 * zipSync writes for a deflated entry. The layout is the same, so the result is byte for byte
 * what zipSync(data, {level: 9}) gives (test/cache.test.ts checks it).
 */
import zlib from 'node:zlib';
import {createHash} from 'node:crypto';
import {deflateSync, zipSync, type Zippable, type ZipOptions} from 'fflate';
import type {CacheStore} from './store.ts';
import {hashOf} from './hash.ts';
import type {ZipFunction} from '../targets/epub/zip.ts';

export type {ZipFunction};

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

export function crc32(data: Uint8Array): number {
  const native = (zlib as unknown as {crc32?: (data: Uint8Array) => number}).crc32;
  if (native) return native(data) >>> 0;
  let c = -1;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

interface Deflated {
  crc: number;
  size: number;
  bytes: Uint8Array;
}

/** A zipSync that remembers compressed entries in memory and, when given, in the store. */
export function memoZip(store?: CacheStore, memory = new Map<string, Deflated>()): ZipFunction {
  const deflated = (data: Uint8Array, level: number, mem: number | undefined): Deflated => {
    const key = hashOf('deflate-1', level, mem, createHash('sha256').update(data).digest('hex'));
    const known = memory.get(key);
    if (known) return known;
    const stored = store?.read('deflate', key);
    if (stored && stored.length >= 8) {
      const entry = {crc: stored.readUInt32LE(0), size: stored.readUInt32LE(4), bytes: new Uint8Array(stored.buffer, stored.byteOffset + 8, stored.length - 8)};
      if (entry.size === data.length) {
        memory.set(key, entry);
        return entry;
      }
    }
    const bytes = deflateSync(data, {level: level as 9, ...(mem !== undefined ? {mem: mem as 8} : {})});
    const entry = {crc: crc32(data), size: data.length, bytes};
    memory.set(key, entry);
    if (store) {
      const head = Buffer.alloc(8);
      head.writeUInt32LE(entry.crc, 0);
      head.writeUInt32LE(entry.size, 4);
      store.write('deflate', key, Buffer.concat([head, bytes]));
    }
    return entry;
  };

  return (data, options = {}) => {
    // Same flattening as zipSync: [bytes, options] pairs and plain byte arrays, at the top level.
    const stored: Zippable = {};
    const patches = new Map<string, Deflated>();
    for (const [name, value] of Object.entries(data)) {
      if (value instanceof Uint8Array) {
        stored[name] = value;
        continue;
      }
      if (!Array.isArray(value) || !(value[0] instanceof Uint8Array)) return zipSync(data, options);
      const [bytes, own] = value as [Uint8Array, ZipOptions & {mem?: number}];
      const merged = {...options, ...own} as {level?: number; mem?: number; dictionary?: unknown};
      if (merged.level === 0) {
        stored[name] = value;
        continue;
      }
      if (merged.dictionary !== undefined) return zipSync(data, options);
      const entry = deflated(bytes, merged.level ?? 6, merged.mem);
      patches.set(name, entry);
      stored[name] = [entry.bytes, {...own, level: 0}];
    }
    const out = zipSync(stored, options);
    patchHeaders(out, patches);
    return out;
  };
}

/** Rewrites the stored entries named in `patches` into deflated ones (method 8, CRC, size). */
function patchHeaders(out: Uint8Array, patches: Map<string, Deflated>): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const decoder = new TextDecoder();
  const end = out.length - 22;
  if (view.getUint32(end, true) !== 0x06054b50) throw new Error('zip: no end of central directory');
  const count = view.getUint16(end + 10, true);
  let central = view.getUint32(end + 16, true);
  for (let n = 0; n < count; n++) {
    if (view.getUint32(central, true) !== 0x02014b50) throw new Error('zip: bad central directory');
    const nameLength = view.getUint16(central + 28, true);
    const extraLength = view.getUint16(central + 30, true);
    const commentLength = view.getUint16(central + 32, true);
    const local = view.getUint32(central + 42, true);
    const name = decoder.decode(out.subarray(central + 46, central + 46 + nameLength));
    const patch = patches.get(name);
    if (patch) {
      for (const [header, method, crc, size] of [[central, 10, 16, 24], [local, 8, 14, 22]] as const) {
        view.setUint16(header + method, 8, true);
        view.setUint32(header + crc, patch.crc, true);
        view.setUint32(header + size, patch.size, true);
      }
    }
    central += 46 + nameLength + extraLength + commentLength;
  }
}
