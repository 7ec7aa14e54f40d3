import { HeaderPair, deserializePairs, serializePairs } from "../pairs";

function bytes(b: ArrayBuffer): u8[] {
  const out = new Array<u8>();
  const v = Uint8Array.wrap(b);
  for (let i = 0; i < v.length; i++) out.push(v[i]);
  return out;
}

function le32(n: u32): u8[] {
  return [<u8>(n & 0xff), <u8>((n >> 8) & 0xff), <u8>((n >> 16) & 0xff), <u8>(n >> 24)];
}

describe("pairs serialization", () => {
  it("lays out count, lengths, then NUL-terminated keys and values", () => {
    const pairs = [new HeaderPair(":path", "/"), new HeaderPair("x-a", "")];
    const expected = new Array<u8>();
    const parts: u8[][] = [le32(2), le32(5), le32(1), le32(3), le32(0)];
    for (let i = 0; i < parts.length; i++) for (let j = 0; j < parts[i].length; j++) expected.push(parts[i][j]);
    const text = ":path\0/\0x-a\0\0";
    for (let i = 0; i < text.length; i++) expected.push(<u8>text.charCodeAt(i));
    const got = bytes(serializePairs(pairs));
    expect(got.length).toBe(expected.length);
    for (let i = 0; i < got.length; i++) expect(got[i]).toBe(expected[i], "byte " + i.toString());
  });

  it("round-trips UTF-8 keys and values", () => {
    const pairs = [new HeaderPair("k1", "v1"), new HeaderPair("ключ", "значение"), new HeaderPair("", "empty-key")];
    const parsed = deserializePairs(serializePairs(pairs));
    expect(parsed.error).toBe("");
    expect(parsed.pairs.length).toBe(3);
    for (let i = 0; i < 3; i++) {
      expect(parsed.pairs[i].key).toBe(pairs[i].key);
      expect(parsed.pairs[i].value).toBe(pairs[i].value);
    }
  });

  it("serializes an empty map as a zero count", () => {
    const b = serializePairs(new Array<HeaderPair>());
    expect(b.byteLength).toBe(4);
    expect(deserializePairs(b).pairs.length).toBe(0);
  });

  it("reads an empty buffer as an empty map", () => {
    const parsed = deserializePairs(new ArrayBuffer(0));
    expect(parsed.error).toBe("");
    expect(parsed.pairs.length).toBe(0);
  });

  it("rejects a count larger than the buffer", () => {
    const b = new ArrayBuffer(8);
    store<u32>(changetype<usize>(b), 1000);
    const parsed = deserializePairs(b);
    expect(parsed.error).toBe("pairs count 1000 does not fit in 8 bytes");
  });

  it("rejects a key length that overruns the buffer", () => {
    const b = serializePairs([new HeaderPair("abc", "d")]);
    store<u32>(changetype<usize>(b) + 4, 0xffffffff);
    const parsed = deserializePairs(b);
    expect(parsed.error).toBe("pair 0 key length 4294967295 overruns the buffer");
  });

  it("rejects a truncated value", () => {
    const full = serializePairs([new HeaderPair("abc", "def")]);
    const cut = full.slice(0, full.byteLength - 2);
    const parsed = deserializePairs(cut);
    expect(parsed.error).toBe("pair 0 value length 3 overruns the buffer");
  });
});
