/**
 * A canonical hash of a plain value (trees, maps, arrays, byte arrays). v8.serialize is not
 * canonical (the same string can be written in one- or two-byte form depending on how it was
 * made), so equal books could hash differently; this walks the value and hashes its content:
 * type tags, lengths, object keys in their order (attribute order shows in the output).
 * `skipKeys`: object keys left out wherever they appear (for what no output depends on).
 */
import {createHash, type Hash} from 'node:crypto';

export function digestValue(value: unknown, options: {skipKeys?: ReadonlySet<string>} = {}): string {
  const skip = options.skipKeys;
  const hash = createHash('sha256');
  const chunks: string[] = [];
  let pending = 0;
  const flush = () => {
    if (chunks.length > 0) hash.update(chunks.join(''));
    chunks.length = 0;
    pending = 0;
  };
  const push = (text: string) => {
    chunks.push(text);
    if (++pending > 4096) flush();
  };
  const bytes = (data: Uint8Array) => {
    flush();
    hash.update(`b${data.byteLength}:`);
    (hash as Hash).update(data);
  };
  const walk = (v: unknown): void => {
    switch (typeof v) {
      case 'string':
        push(`s${v.length}:`);
        push(v);
        return;
      case 'number':
        push(`n${Object.is(v, -0) ? '-0' : String(v)};`);
        return;
      case 'boolean':
        push(v ? 't' : 'f');
        return;
      case 'undefined':
        push('u');
        return;
      case 'bigint':
        push(`i${v};`);
        return;
      case 'object':
        break;
      default:
        throw new TypeError(`Cannot digest a ${typeof v}`);
    }
    if (v === null) {
      push('z');
      return;
    }
    if (Array.isArray(v)) {
      push(`[${v.length}:`);
      for (let i = 0; i < v.length; i++) walk(v[i]);
      push(']');
      return;
    }
    if (v instanceof Uint8Array) {
      bytes(v);
      return;
    }
    if (v instanceof Map) {
      push(`M${v.size}:`);
      for (const [key, item] of v) {
        walk(key);
        walk(item);
      }
      return;
    }
    if (v instanceof Set) {
      push(`S${v.size}:`);
      for (const item of v) walk(item);
      return;
    }
    if (v instanceof Date) {
      push(`d${v.getTime()};`);
      return;
    }
    const proto = Object.getPrototypeOf(v) as object | null;
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto as {constructor?: {name?: string}}).constructor?.name ?? '?';
      if (name === 'RegExp') {
        push(`r${String(v)};`);
        return;
      }
      // A class instance: its own fields, tagged with the class name.
      push(`c${name.length}:${name}`);
    }
    const keys = skip ? Object.keys(v as object).filter((key) => !skip.has(key)) : Object.keys(v as object);
    push(`{${keys.length}:`);
    for (const key of keys) {
      push(`${key.length}:${key}`);
      walk((v as Record<string, unknown>)[key]);
    }
    push('}');
  };
  walk(value);
  flush();
  return hash.digest('hex');
}
