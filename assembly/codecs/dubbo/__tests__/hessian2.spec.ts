import { Hessian2Reader, HStatus, fixedSize, hessianString, hessianEquals, skipChars } from "../hessian2";
import { bytes, Bytes, ptr } from "../../__fixtures__/bytes";

// Hand-built Hessian 2.0 values (grammar: Hessian 2.0 Serialization Protocol §3), one row each:
// the skipper must consume exactly the whole value, and every strict prefix must answer Short
// (more bytes may complete it) — never Bad, never a trap.

class Row {
  constructor(public name: string, public data: StaticArray<u8>) {}
}

/** CESU-8 for a JS string, one UTF-16 code unit at a time (as hessian.js and Java write it). */
function cesu8(b: Bytes, s: string): Bytes {
  for (let i = 0; i < s.length; i++) {
    const c = <u32>s.charCodeAt(i);
    if (c < 0x80) b.u8(c);
    else if (c < 0x800) b.u8(0xc0 | (c >> 6)).u8(0x80 | (c & 0x3f));
    else b.u8(0xe0 | (c >> 12)).u8(0x80 | ((c >> 6) & 0x3f)).u8(0x80 | (c & 0x3f));
  }
  return b;
}

/** A compact (≤ 31 units) string. */
function str(b: Bytes, s: string): Bytes {
  return cesu8(b.u8(s.length), s);
}

function user(): Bytes {
  // class def: "User" with fields name, age
  return str(str(str(bytes().u8(0x43), "User").u8(0x92), "name"), "age");
}

const ROWS: Row[] = [
  new Row("null", bytes().u8(0x4e).build()),
  new Row("true", bytes().u8(0x54).build()),
  new Row("false", bytes().u8(0x46).build()),
  new Row("int 1-byte", bytes().u8(0x90).build()),
  new Row("int 2-byte", bytes().u8(0xc0).u8(0x00).build()),
  new Row("int 3-byte", bytes().u8(0xd7).u8(0xff).u8(0xff).build()),
  new Row("int 'I'", bytes().u8(0x49).be32(0x80000000).build()),
  new Row("long 1-byte", bytes().u8(0xe0).build()),
  new Row("long 2-byte", bytes().u8(0xf8).u8(0x10).build()),
  new Row("long 3-byte", bytes().u8(0x3c).u8(0x01).u8(0x02).build()),
  new Row("long as int32 (0x59)", bytes().u8(0x59).be32(7).build()),
  new Row("long 'L'", bytes().u8(0x4c).be32(1).be32(2).build()),
  new Row("double 0.0", bytes().u8(0x5b).build()),
  new Row("double 1.0", bytes().u8(0x5c).build()),
  new Row("double byte", bytes().u8(0x5d).u8(0x80).build()),
  new Row("double short", bytes().u8(0x5e).be16(300).build()),
  new Row("double float", bytes().u8(0x5f).be32(0x3fc00000).build()),
  new Row("double 'D'", bytes().u8(0x44).be32(0x400921f9).be32(0xf01b866e).build()),
  new Row("date ms (0x4a)", bytes().u8(0x4a).be32(0).be32(0x12345678).build()),
  new Row("date minutes (0x4b)", bytes().u8(0x4b).be32(0x00e3c2a1).build()),
  new Row("string empty", bytes().u8(0x00).build()),
  new Row("string compact", str(bytes(), "hello").build()),
  new Row("string 0x30 form", cesu8(bytes().u8(0x30).u8(40), "abcdefghijabcdefghijabcdefghijabcdefghij").build()),
  new Row("string 'S'", cesu8(bytes().u8(0x53).be16(3), "xyz").build()),
  new Row("string chunked R+S", cesu8(cesu8(bytes().u8(0x52).be16(2), "ab").u8(0x53).be16(1), "c").build()),
  new Row("string chunked R+compact", cesu8(cesu8(bytes().u8(0x52).be16(1), "a").u8(0x02), "bc").build()),
  new Row("string CJK", str(bytes(), "你好世界").build()),
  new Row("string 2-byte chars", str(bytes(), "café ñ").build()),
  new Row("string surrogate pair", str(bytes(), "a😀b").build()),
  new Row("binary empty", bytes().u8(0x20).build()),
  new Row("binary compact", bytes().u8(0x23).u8(1).u8(2).u8(3).build()),
  new Row("binary 0x34 form", bytes().u8(0x34).u8(16).zeros(16).build()),
  new Row("binary 'B'", bytes().u8(0x42).be16(5).zeros(5).build()),
  new Row("binary chunked A+B", bytes().u8(0x41).be16(2).zeros(2).u8(0x42).be16(1).zeros(1).build()),
  new Row("binary chunked A+compact", bytes().u8(0x41).be16(1).zeros(1).u8(0x21).u8(9).build()),
  new Row("list typed variable 'U'", str(bytes().u8(0x55), "[int").u8(0x91).u8(0x92).u8(0x5a).build()),
  new Row("list typed fixed 'V'", str(bytes().u8(0x56), "[string").u8(0x92).u8(0x01).u8(0x61).u8(0x00).build()),
  new Row("list typed fixed 'V' type ref", bytes().u8(0x56).u8(0x90).u8(0x91).u8(0x4e).build()),
  new Row("list untyped variable 'W'", bytes().u8(0x57).u8(0x90).u8(0x4e).u8(0x5a).build()),
  new Row("list untyped fixed 'X'", bytes().u8(0x58).u8(0x93).u8(0x90).u8(0x91).u8(0x92).build()),
  new Row("list untyped fixed 'X' empty", bytes().u8(0x58).u8(0x90).build()),
  new Row("list compact typed 0x72", str(bytes().u8(0x72), "[int").u8(0x90).u8(0x91).build()),
  new Row("list compact untyped 0x7a", bytes().u8(0x7a).u8(0x90).u8(0x4e).build()),
  new Row("list compact untyped 0x78 empty", bytes().u8(0x78).build()),
  new Row("map untyped 'H'", str(str(bytes().u8(0x48), "k"), "v").u8(0x91).u8(0x54).u8(0x5a).build()),
  new Row("map typed 'M'", str(str(str(bytes().u8(0x4d), "java.util.TreeMap"), "k"), "v").u8(0x5a).build()),
  new Row("map typed 'M' type ref", str(str(bytes().u8(0x4d).u8(0x90), "k"), "v").u8(0x5a).build()),
  new Row("class def + compact object", str(user().u8(0x60), "ann").u8(0xae).build()),
  new Row("class def + 'O' object", str(user().u8(0x4f).u8(0x90), "bob").u8(0x4e).build()),
  new Row("objects reuse a definition", str(str(user().u8(0x57).u8(0x60), "a").u8(0x91).u8(0x60), "b").u8(0x92).u8(0x5a).build()),
  new Row("definition inside a list", str(user().u8(0x60), "a").u8(0x90).build()),
  new Row("ref 'Q'", bytes().u8(0x51).u8(0x90).build()),
  new Row("ref 'Q' int form", bytes().u8(0x51).u8(0x49).be32(70000).build()),
  new Row("nested list/map/list", str(bytes().u8(0x57).u8(0x48), "k").u8(0x79).u8(0x57).u8(0x5a).u8(0x5a).u8(0x5a).build()),
];

function reader(data: StaticArray<u8>, len: i32, depth: i32 = 64): Hessian2Reader {
  const r = new Hessian2Reader(depth);
  r.reset(ptr(data), 0, len);
  return r;
}

describe("hessian2 skipper: every type", () => {
  it("consumes exactly each value, and answers Short on every strict prefix", () => {
    for (let i = 0; i < ROWS.length; i++) {
      const row = ROWS[i];
      const r = reader(row.data, row.data.length);
      const s = r.skipValue();
      if (s != HStatus.Ok) throw new Error(row.name + ": " + r.error);
      expect(r.pos).toBe(row.data.length, row.name);
      for (let k = 0; k < row.data.length; k++) {
        const pr = reader(row.data, k);
        expect<i32>(pr.skipValue()).toBe(HStatus.Short, row.name + " prefix " + k.toString());
      }
    }
  });

  it("skips values packed back to back", () => {
    const all = bytes();
    for (let i = 0; i < ROWS.length; i++) all.raw(ROWS[i].data);
    const data = all.build();
    const r = reader(data, data.length);
    for (let i = 0; i < ROWS.length; i++) {
      const s = r.skipValue();
      if (s != HStatus.Ok) throw new Error(ROWS[i].name + ": " + r.error);
    }
    expect(r.pos).toBe(data.length);
  });
});

class IntRow {
  constructor(public data: StaticArray<u8>, public value: i64) {}
}

describe("hessian2 ints", () => {
  it("reads the compact forms at their boundaries", () => {
    const rows: IntRow[] = [
      new IntRow(bytes().u8(0x80).build(), -16),
      new IntRow(bytes().u8(0x90).build(), 0),
      new IntRow(bytes().u8(0xbf).build(), 47),
      new IntRow(bytes().u8(0xc0).u8(0x00).build(), -2048),
      new IntRow(bytes().u8(0xc8).u8(0x30).build(), 48),
      new IntRow(bytes().u8(0xcf).u8(0xff).build(), 2047),
      new IntRow(bytes().u8(0xd0).u8(0x00).u8(0x00).build(), -262144),
      new IntRow(bytes().u8(0xd7).u8(0xff).u8(0xff).build(), 262143),
      new IntRow(bytes().u8(0x49).be32(0x80000000).build(), -2147483648),
      new IntRow(bytes().u8(0x49).be32(0x7fffffff).build(), 2147483647),
    ];
    for (let i = 0; i < rows.length; i++) {
      const r = reader(rows[i].data, rows[i].data.length);
      expect<i32>(r.readInt()).toBe(HStatus.Ok);
      expect(r.intValue).toBe(rows[i].value);
      expect(r.pos).toBe(rows[i].data.length);
    }
  });

  it("rejects a non-int tag by name", () => {
    const d = bytes().u8(0x4e).build();
    const r = reader(d, 1);
    expect<i32>(r.readInt()).toBe(HStatus.Bad);
    expect(r.error).toBe("expected a hessian2 int at offset 0, found tag 0x4e");
  });
});

describe("hessian2 strings", () => {
  it("counts UTF-16 units, not bytes: CJK, 2-byte chars and surrogate pairs", () => {
    const s = "组A😀é";
    const d = str(bytes(), s).build();
    const r = reader(d, d.length);
    expect<i32>(r.readString()).toBe(HStatus.Ok);
    expect(r.strChars).toBe(5);
    expect(r.strBytes).toBe(3 + 1 + 6 + 2);
    expect(r.strChunked).toBe(false);
    expect(hessianString(ptr(d), 0, d.length, r.strChars)).toBe(s);
    expect(hessianEquals(ptr(d), r.strData, r.strBytes, s)).toBe(true);
    expect(hessianEquals(ptr(d), r.strData, r.strBytes, "组A😀e")).toBe(false);
    expect(hessianEquals(ptr(d), r.strData, r.strBytes, "组A😀")).toBe(false);
  });

  it("joins chunks", () => {
    const d = cesu8(cesu8(bytes().u8(0x52).be16(2), "你好").u8(0x53).be16(3), "世界!").build();
    const r = reader(d, d.length);
    expect<i32>(r.readString()).toBe(HStatus.Ok);
    expect(r.strChunked).toBe(true);
    expect(r.strChars).toBe(5);
    expect(hessianString(ptr(d), 0, d.length, 5)).toBe("你好世界!");
  });

  it("skips ASCII in 8-byte steps and stops at the first multi-byte char", () => {
    const d = cesu8(bytes(), "abcdefghijklmnop长q").build();
    expect(skipChars(ptr(d), 0, d.length, 18)).toBe(d.length);
    expect(skipChars(ptr(d), 0, d.length - 1, 18)).toBe(-1);
  });

  it("rejects 4-byte UTF-8 and continuation bytes in lead position, as Java's Hessian2Input does", () => {
    const four = bytes().u8(0x02).u8(0xf0).u8(0x9f).u8(0x98).u8(0x80).build();
    const r = reader(four, four.length);
    expect<i32>(r.readString()).toBe(HStatus.Bad);
    expect(r.error).toBe("invalid hessian2 utf-8 byte 0xf0 at offset 1");
    const cont = bytes().u8(0x01).u8(0x80).build();
    const r2 = reader(cont, cont.length);
    expect<i32>(r2.readString()).toBe(HStatus.Bad);
  });

  it("rejects a chunk that is not a string", () => {
    const d = bytes().u8(0x52).be16(1).u8(0x61).u8(0x90).build();
    const r = reader(d, d.length);
    expect<i32>(r.readString()).toBe(HStatus.Bad);
    expect(r.error).toBe("expected a hessian2 string chunk at offset 4, found tag 0x90");
  });
});

class BadRow {
  constructor(public name: string, public data: StaticArray<u8>, public error: string) {}
}

describe("hessian2 malformed values are errors naming the value", () => {
  it("answers Bad with the message", () => {
    const deep = bytes();
    for (let i = 0; i < 100; i++) deep.u8(0x57);
    const rows: BadRow[] = [
      new BadRow("reserved tag", bytes().u8(0x40).build(), "invalid hessian2 tag 0x40 at offset 0"),
      new BadRow("end marker at top", bytes().u8(0x5a).build(), "unexpected hessian2 end marker 'Z' at offset 0"),
      new BadRow("map key without value", str(bytes().u8(0x48), "k").u8(0x5a).build(), "hessian2 map ends after a key without a value at offset 3"),
      new BadRow("undefined class", bytes().u8(0x61).build(), "hessian2 object at offset 0 refers to undefined class definition 1"),
      new BadRow("'O' negative class", bytes().u8(0x4f).u8(0x8f).build(), "hessian2 object at offset 0 refers to undefined class definition -1"),
      new BadRow("negative list length", bytes().u8(0x58).u8(0x8f).build(), "invalid hessian2 list length -1 at offset 1"),
      new BadRow("list type not a type", bytes().u8(0x55).u8(0x4e).build(), "expected a hessian2 type (string or int) at offset 1, found tag 0x4e"),
      new BadRow("nesting", deep.build(), "hessian2 nesting deeper than 64 at offset 64"),
      new BadRow("binary chunk", bytes().u8(0x41).be16(0).u8(0x90).build(), "expected a hessian2 binary chunk at offset 3, found tag 0x90"),
    ];
    for (let i = 0; i < rows.length; i++) {
      const r = reader(rows[i].data, rows[i].data.length);
      expect<i32>(r.skipValue()).toBe(HStatus.Bad, rows[i].name);
      expect(r.error).toBe(rows[i].error, rows[i].name);
    }
  });

  it("answers Short for a fixed length larger than the bytes left (no allocation, no loop)", () => {
    const d = bytes().u8(0x58).u8(0x49).be32(0x7fffffff).u8(0x90).build();
    const r = reader(d, d.length);
    expect<i32>(r.skipValue()).toBe(HStatus.Short);
    expect(r.error).toBe("hessian2 list length 2147483647 at offset 1 runs past the end of the data");
  });

  it("bounds nesting by the configured depth", () => {
    const d = bytes().u8(0x57).u8(0x57).u8(0x57).u8(0x5a).u8(0x5a).u8(0x5a).build();
    expect<i32>(reader(d, d.length, 3).skipValue()).toBe(HStatus.Ok);
    expect<i32>(reader(d, d.length, 2).skipValue()).toBe(HStatus.Bad);
  });
});

describe("hessian2 fixed-size table", () => {
  it("matches the grammar's sizes at each range boundary", () => {
    expect(fixedSize(0x80)).toBe(1);
    expect(fixedSize(0xbf)).toBe(1);
    expect(fixedSize(0xc0)).toBe(2);
    expect(fixedSize(0xcf)).toBe(2);
    expect(fixedSize(0xd0)).toBe(3);
    expect(fixedSize(0xd7)).toBe(3);
    expect(fixedSize(0xd8)).toBe(1);
    expect(fixedSize(0xef)).toBe(1);
    expect(fixedSize(0xf0)).toBe(2);
    expect(fixedSize(0xff)).toBe(2);
    expect(fixedSize(0x38)).toBe(3);
    expect(fixedSize(0x3f)).toBe(3);
    expect(fixedSize(0x49)).toBe(5);
    expect(fixedSize(0x4c)).toBe(9);
    expect(fixedSize(0x59)).toBe(5);
    expect(fixedSize(0x44)).toBe(9);
    expect(fixedSize(0x5b)).toBe(1);
    expect(fixedSize(0x5f)).toBe(5);
    expect(fixedSize(0x4a)).toBe(9);
    expect(fixedSize(0x4b)).toBe(5);
    expect(fixedSize(0x20)).toBe(1);
    expect(fixedSize(0x2f)).toBe(16);
    // variable-size tags
    expect(fixedSize(0x00)).toBe(0);
    expect(fixedSize(0x30)).toBe(0);
    expect(fixedSize(0x34)).toBe(0);
    expect(fixedSize(0x53)).toBe(0);
    expect(fixedSize(0x57)).toBe(0);
    expect(fixedSize(0x60)).toBe(0);
    expect(fixedSize(0x70)).toBe(0);
    expect(fixedSize(0x40)).toBe(0);
  });
});
