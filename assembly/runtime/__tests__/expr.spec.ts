import { ExprMap, Expression, createExpression } from "../expr";
import { WasmResult } from "../enums";

/** A pairs buffer as serializeValue writes a CEL map: values are raw byte strings. */
function pairs(entries: u8[][][]): ArrayBuffer {
  const out = new Array<u8>();
  const n = <u32>entries.length;
  le32(out, n);
  for (let i = 0; i < entries.length; i++) {
    le32(out, <u32>entries[i][0].length);
    le32(out, <u32>entries[i][1].length);
  }
  for (let i = 0; i < entries.length; i++) {
    for (let j = 0; j < entries[i][0].length; j++) out.push(entries[i][0][j]);
    out.push(0);
    for (let j = 0; j < entries[i][1].length; j++) out.push(entries[i][1][j]);
    out.push(0);
  }
  const b = new ArrayBuffer(out.length);
  for (let i = 0; i < out.length; i++) store<u8>(changetype<usize>(b) + <usize>i, out[i]);
  return b;
}

function le32(out: u8[], n: u32): void {
  out.push(<u8>(n & 0xff));
  out.push(<u8>((n >> 8) & 0xff));
  out.push(<u8>((n >> 16) & 0xff));
  out.push(<u8>(n >> 24));
}

function le64(v: u64): u8[] {
  const out = new Array<u8>();
  for (let i: u64 = 0; i < 8; i++) out.push(<u8>((v >> (i * 8)) & 0xff));
  return out;
}

function ascii(s: string): u8[] {
  const out = new Array<u8>();
  for (let i = 0; i < s.length; i++) out.push(<u8>s.charCodeAt(i));
  return out;
}

function truncated(b: ArrayBuffer, n: i32): ArrayBuffer {
  return b.slice(0, n);
}

function sample(): ArrayBuffer {
  return pairs([
    [ascii("d"), le64(<u64>1500000000)],
    [ascii("f"), le64(0x80)],
    // A uint64 with every byte set: raw bytes, never UTF-8 text.
    [ascii("c"), le64(0xfffffffffffffffe)],
    [ascii("m"), [1]],
    [ascii("s"), ascii("spiffe://cluster.local/ns/a/sa/b")],
    [ascii("e"), []],
  ]);
}

describe("ExprMap (serializeValue's CEL map)", () => {

  it("finds entries by key whatever their order, values kept raw", () => {
    const m = ExprMap.parse(sample());
    expect(m.error).toBe("");
    expect(m.count).toBe(6);
    expect(m.int64("d", -1)).toBe(1500000000);
    expect(m.int64("f", -1)).toBe(0x80);
    expect(m.uint64("c", 0)).toBe(0xfffffffffffffffe);
    expect(m.bool("m", false)).toBe(true);
    expect(m.string("s", "")).toBe("spiffe://cluster.local/ns/a/sa/b");
    expect(m.string("e", "x")).toBe("");
    expect(m.size("e")).toBe(0);
  });

  it("answers the default for an absent key or a value of the wrong width", () => {
    const m = ExprMap.parse(sample());
    expect(m.has("zz")).toBe(false);
    expect(m.int64("zz", -7)).toBe(-7);
    expect(m.int64("s", -7)).toBe(-7);
    expect(m.bool("d", false)).toBe(false);
    expect(m.size("zz")).toBe(-1);
  });

  it("names the problem of every truncation instead of reading past the end", () => {
    const buf = sample();
    const whole = buf.byteLength;
    for (let n = 0; n < whole; n++) {
      const m = ExprMap.parse(truncated(buf, n));
      expect(m.error.length).toBeGreaterThan(0, "truncated to " + n.toString());
      expect(m.count).toBe(0);
    }
    expect(ExprMap.parse(truncated(buf, 2)).error).toBe("CEL map of 2 bytes is shorter than its count");
  });

  it("rejects a count that cannot fit", () => {
    const b = new ArrayBuffer(8);
    store<u32>(changetype<usize>(b), 1000);
    expect(ExprMap.parse(b).error).toBe("CEL map count 1000 does not fit in 8 bytes");
  });

  it("a reused map forgets the entries of the buffer it read before", () => {
    const m = new ExprMap();
    m.read(sample());
    expect(m.count).toBe(6);
    m.read(pairs([[ascii("x"), le64(5)]]));
    expect(m.error).toBe("");
    expect(m.count).toBe(1);
    expect(m.has("d")).toBe(false);
    expect(m.int64("x", 0)).toBe(5);
    m.read(truncated(sample(), 3));
    expect(m.error.length).toBeGreaterThan(0);
    expect(m.has("x")).toBe(false);
    m.read(sample());
    expect(m.error).toBe("");
    expect(m.int64("d", -1)).toBe(1500000000);
  });

  it("an empty map has no entries", () => {
    const m = ExprMap.parse(pairs([]));
    expect(m.error).toBe("");
    expect(m.count).toBe(0);
    expect(m.has("d")).toBe(false);
  });
});

describe("Expression without a host that answers", () => {
  it("keeps the host's status and evaluates to it, never throwing", () => {
    // The spec host stubs every import with Unimplemented.
    const e = createExpression("{'d': request.duration}");
    expect(e.ok).toBe(false);
    expect(e.status).toBe(WasmResult.Unimplemented);
    const r = e.evaluate();
    expect(r.ok).toBe(false);
    expect(r.status).toBe(WasmResult.Unimplemented);
    expect(r.value.byteLength).toBe(0);
    expect(e.delete()).toBe(WasmResult.Ok);
  });

  it("a deleted expression is not evaluated again", () => {
    const e = new Expression("x", WasmResult.Ok, 3);
    e.deleted = true;
    expect(e.ok).toBe(false);
    expect(e.evaluate().status).toBe(WasmResult.NotFound);
  });
});
