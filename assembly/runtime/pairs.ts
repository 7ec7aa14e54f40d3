// Pairs serialization shared by header maps, send_local_response, http_call and gRPC metadata:
// u32 count, count × (u32 key_len, u32 value_len), then every key and value followed by a NUL
// (proxy-wasm-cpp-host src/pairs_util.cc; little-endian like all wasm memory). Pure code.

export class HeaderPair {
  constructor(public key: string, public value: string) {}
}

export type Headers = Array<HeaderPair>;

/** Serializes pairs; keys and values are encoded as UTF-8. */
export function serializePairs(pairs: Headers): ArrayBuffer {
  const n = pairs.length;
  let size = 4 + n * 8;
  const keys = new Array<ArrayBuffer>(n);
  const values = new Array<ArrayBuffer>(n);
  for (let i = 0; i < n; i++) {
    const k = String.UTF8.encode(pairs[i].key);
    const v = String.UTF8.encode(pairs[i].value);
    keys[i] = k;
    values[i] = v;
    size += k.byteLength + v.byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, <u32>n);
  let lens = base + 4;
  let data = base + 4 + <usize>n * 8;
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    const v = values[i];
    store<u32>(lens, <u32>k.byteLength);
    store<u32>(lens + 4, <u32>v.byteLength);
    lens += 8;
    memory.copy(data, changetype<usize>(k), k.byteLength);
    data += k.byteLength;
    store<u8>(data, 0);
    data += 1;
    memory.copy(data, changetype<usize>(v), v.byteLength);
    data += v.byteLength;
    store<u8>(data, 0);
    data += 1;
  }
  return out;
}

/** Result of parsing a pairs buffer; `error` names what is wrong, "" when the buffer is valid. */
export class PairsParse {
  constructor(public pairs: Headers, public error: string) {}
}

/**
 * Parses a pairs buffer. An empty buffer is an empty map (hosts return nothing for an empty or
 * unavailable map). Every length is checked against the buffer before it is read.
 */
export function deserializePairs(buf: ArrayBuffer): PairsParse {
  const pairs = new Array<HeaderPair>();
  const total = <usize>buf.byteLength;
  if (total == 0) return new PairsParse(pairs, "");
  if (total < 4) return new PairsParse(pairs, "pairs buffer of " + total.toString() + " bytes is shorter than its count");
  const base = changetype<usize>(buf);
  const n = <usize>load<u32>(base);
  if (n > (total - 4) / 8) {
    return new PairsParse(pairs, "pairs count " + n.toString() + " does not fit in " + total.toString() + " bytes");
  }
  let lens = base + 4;
  let off: usize = 4 + n * 8;
  for (let i: usize = 0; i < n; i++) {
    const kl = <usize>load<u32>(lens);
    const vl = <usize>load<u32>(lens + 4);
    lens += 8;
    // Compare with subtraction so huge lengths cannot wrap around.
    if (kl > total - off || total - off - kl < 1) {
      return new PairsParse(pairs, "pair " + i.toString() + " key length " + kl.toString() + " overruns the buffer");
    }
    const key = String.UTF8.decodeUnsafe(base + off, kl);
    off += kl + 1;
    if (vl > total - off || total - off - vl < 1) {
      return new PairsParse(pairs, "pair " + i.toString() + " value length " + vl.toString() + " overruns the buffer");
    }
    const value = String.UTF8.decodeUnsafe(base + off, vl);
    off += vl + 1;
    pairs.push(new HeaderPair(key, value));
  }
  return new PairsParse(pairs, "");
}
