import { JsonKind, LIMITS, parseJson, parseJsonBytes } from "..";

function err(text: string): string {
  return parseJson(text).message();
}

describe("parseJson", () => {
  it("reads an object with every kind of value", () => {
    const p = parseJson(' { "s": "x\\n\\u00e9\\"", "n": -12.5e1, "t": true, "f": false, "z": null, "a": [1, [], {}] } ');
    expect(p.ok).toBe(true);
    const v = p.value!;
    expect(v.kind).toBe(JsonKind.Object);
    expect(v.keys.length).toBe(6);
    expect(v.get("s")!.str).toBe("x\né\"");
    expect(v.get("n")!.num).toBe(-125.0);
    expect(v.get("t")!.bool).toBe(true);
    expect(v.get("f")!.kind).toBe(JsonKind.Bool);
    expect(v.get("z")!.kind).toBe(JsonKind.Null);
    const a = v.get("a")!;
    expect(a.items.length).toBe(3);
    expect(a.items[0].num).toBe(1.0);
    expect(a.items[1].kind).toBe(JsonKind.Array);
    expect(a.items[2].kind).toBe(JsonKind.Object);
    expect(v.get("missing")).toBeNull();
  });

  it("recombines escaped surrogate pairs", () => {
    expect(parseJson('"\\ud83d\\ude00"').value!.str).toBe("😀");
  });

  it("reads scalars at top level", () => {
    expect(parseJson("0").value!.num).toBe(0.0);
    expect(parseJson(' "a" ').value!.str).toBe("a");
  });

  it("reports errors with offsets", () => {
    expect(err("")).toBe("expected a value, found end of input at byte 0");
    expect(err("{")).toBe("expected a string key, found end of input at byte 1");
    expect(err('{"a":1,}')).toBe("expected a string key, found '}' at byte 7");
    expect(err('{"a" 1}')).toBe("expected ':' after key \"a\", found '1' at byte 5");
    expect(err('{"a":1 "b":2}')).toBe("expected ',' or '}' in object, found '\"' at byte 7");
    expect(err("[1,]")).toBe("expected a value, found ']' at byte 3");
    expect(err("[1 2]")).toBe("expected ',' or ']' in array, found '2' at byte 3");
    expect(err('"abc')).toBe("unterminated string at byte 4");
    expect(err('"a\tb"')).toBe("unescaped control character 0x09 in string at byte 2");
    expect(err('"\\x"')).toBe("invalid escape 'x' at byte 2");
    expect(err('"\\u12G4"')).toBe("invalid \\u escape at byte 1");
    expect(err("01")).toBe("leading zero in number 01 at byte 0");
    expect(err("-")).toBe("expected a digit, found end of input at byte 1");
    expect(err("1.")).toBe("expected a digit after '.', found end of input at byte 2");
    expect(err("1e+")).toBe("expected a digit in exponent, found end of input at byte 3");
    expect(err("tru")).toBe("expected a value, found 't' at byte 0");
    expect(err("{} x")).toBe("unexpected 'x' after the value at byte 3");
    expect(err("// c\n{}")).toBe("expected a value, found '/' at byte 0");
  });

  it("rejects duplicate keys", () => {
    expect(err('{"a":1,"a":2}')).toBe("duplicate key \"a\" at byte 7");
  });

  it("limits nesting depth", () => {
    expect(err("[".repeat(65))).toBe("nesting deeper than the limit of 64 at byte 64");
    expect(parseJson("[".repeat(64) + "]".repeat(64)).ok).toBe(true);
  });
});

/** Bytes from a list of byte values. */
function bytesOf(b: i32[]): ArrayBuffer {
  const out = new ArrayBuffer(b.length);
  for (let i = 0; i < b.length; i++) store<u8>(changetype<usize>(out) + <usize>i, <u8>b[i]);
  return out;
}

/** UTF-8 of `before`, then raw `mid` bytes, then UTF-8 of `after`. */
function spliced(before: string, mid: i32[], after: string): ArrayBuffer {
  const a = Uint8Array.wrap(String.UTF8.encode(before));
  const c = Uint8Array.wrap(String.UTF8.encode(after));
  const out = new Uint8Array(a.length + mid.length + c.length);
  out.set(a, 0);
  for (let i = 0; i < mid.length; i++) out[a.length + i] = <u8>mid[i];
  out.set(c, a.length + mid.length);
  return out.buffer;
}

function bytesErr(b: ArrayBuffer): string {
  return parseJsonBytes(b).message();
}

describe("strict UTF-8", () => {
  it("rejects invalid bytes before reading, naming the byte offset", () => {
    // A lead byte must not swallow the quote, dot or brace after it.
    expect(bytesErr(spliced('{"cidr":"1', [0xc0], '.0.0.0/8"}'))).toBe("invalid UTF-8 (bytes 0xc0 0x2e) at byte 10");
    expect(bytesErr(spliced('{"mode":', [0xc0], '"observe"}'))).toBe("invalid UTF-8 (bytes 0xc0 0x22) at byte 8");
    expect(bytesErr(bytesOf([0xfb]))).toBe("invalid UTF-8 (bytes 0xfb) at byte 0");
    expect(bytesErr(spliced('{"stat_prefix":"tcp_stat', [0xf3], '"}stats"}'))).toBe("invalid UTF-8 (bytes 0xf3 0x22 0x7d 0x73) at byte 24");
    // Truncated at the end, overlong, surrogate, past U+10FFFF, stray continuation.
    expect(bytesErr(spliced('"a', [0xe2, 0x82], ""))).toBe("invalid UTF-8 (bytes 0xe2 0x82) at byte 2");
    expect(bytesErr(spliced('"', [0xe0, 0x80, 0xaf], '"'))).toBe("invalid UTF-8 (bytes 0xe0 0x80 0xaf) at byte 1");
    expect(bytesErr(spliced('"', [0xed, 0xa0, 0x80], '"'))).toBe("invalid UTF-8 (bytes 0xed 0xa0 0x80) at byte 1");
    expect(bytesErr(spliced('"', [0xf4, 0x90, 0x80, 0x80], '"'))).toBe("invalid UTF-8 (bytes 0xf4 0x90 0x80 0x80) at byte 1");
    expect(bytesErr(spliced('"', [0x80], '"'))).toBe("invalid UTF-8 (bytes 0x80 0x22) at byte 1");
  });

  it("reads valid multi-byte text and counts offsets in bytes", () => {
    expect(parseJson('"caf\u00e9 é 😀"').value!.str).toBe("café é 😀");
    expect(err('["é", x]')).toBe("expected a value, found 'x' at byte 7");
    expect(err('["é" é]')).toBe("expected ',' or ']' in array, found 'é' (U+00E9) at byte 6");
  });

  it("rejects a lone surrogate in the text or as an escape", () => {
    expect(err("\"\ud800\"")).toBe("invalid UTF-8 (bytes 0xed 0xa0 0x80) at byte 1");
    expect(err('"\\ud800"')).toBe("unpaired surrogate \\ud800 in string at byte 1");
    expect(err('"\\udc00\\ud800"')).toBe("unpaired surrogate \\udc00 in string at byte 1");
    expect(err('"\\ud800\\u0041"')).toBe("unpaired surrogate \\ud800 in string at byte 1");
  });

  it("names a byte order mark the same way wherever it stands", () => {
    expect(bytesErr(spliced("", [0xef, 0xbb, 0xbf], "{}"))).toBe("expected a value, found byte order mark (U+FEFF) at byte 0");
    expect(bytesErr(spliced("{", [0xef, 0xbb, 0xbf], "}"))).toBe("expected a string key, found byte order mark (U+FEFF) at byte 1");
    expect(bytesErr(spliced("[1", [0xef, 0xbb, 0xbf], "]"))).toBe("expected ',' or ']' in array, found byte order mark (U+FEFF) at byte 2");
    expect(bytesErr(spliced("{}", [0xef, 0xbb, 0xbf], ""))).toBe("unexpected byte order mark (U+FEFF) after the value at byte 2");
  });
});

describe("numbers", () => {
  it("keep the text as written", () => {
    expect(parseJson("18446744073709551616").value!.str).toBe("18446744073709551616");
    expect(parseJson("0.0000000000000000000000000000001").value!.str).toBe("0.0000000000000000000000000000001");
    const big = parseJson("1e309").value!;
    expect(big.str).toBe("1e309");
    expect(big.num).toBe(Infinity);
    expect(parseJson("-0.5E+2").value!.num).toBe(-50.0);
    expect(parseJson("-0.5E+2").value!.numberText()).toBe("-0.5E+2");
    // Plain integers keep no copy of their text: it prints back the same.
    expect(parseJson("64").value!.numberText()).toBe("64");
    expect(parseJson("-123456789012345").value!.numberText()).toBe("-123456789012345");
    expect(parseJson("-123456789012345").value!.num).toBe(-123456789012345.0);
    expect(parseJson("1234567890123456").value!.numberText()).toBe("1234567890123456");
    expect(parseJson("-0").value!.numberText()).toBe("-0");
  });

  it("say when a leading zero is the problem", () => {
    expect(err("[012]")).toBe("leading zero in number 012 at byte 1");
    expect(err("-00")).toBe("leading zero in number -00 at byte 0");
    expect(parseJson("0.5").ok).toBe(true);
    expect(parseJson("-0").ok).toBe(true);
  });
});

function manyKeys(n: i32, dupAt: i32): string {
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = '"k' + (i == dupAt ? 0 : i).toString() + '":' + i.toString();
  return "{" + parts.join(",") + "}";
}

describe("limits", () => {
  it("finds duplicates among many keys (hash set per object)", () => {
    const ok = parseJson(manyKeys(5000, -1));
    expect(ok.ok).toBe(true);
    expect(ok.value!.keys.length).toBe(5000);
    expect(ok.value!.get("k4999")!.num).toBe(4999.0);
    const dup = parseJson(manyKeys(5000, 4000));
    expect(dup.error).toBe("duplicate key \"k0\"");
    expect(parseJson(manyKeys(9, 8)).error).toBe("duplicate key \"k0\"");
  });

  it("names each limit", () => {
    expect(LIMITS.CONFIG_BYTES).toBe(1048576);
    const huge = parseJsonBytes(new ArrayBuffer(LIMITS.CONFIG_BYTES + 1));
    expect(huge.error).toBe("configuration of 1048577 bytes is larger than the limit of 1048576 bytes");
    expect(parseJson('"' + "a".repeat(LIMITS.STRING_BYTES) + '"').ok).toBe(true);
    expect(err('["' + "a".repeat(LIMITS.STRING_BYTES + 1) + '"]')).toBe("string longer than the limit of 4096 bytes at byte 1");
    expect(err('"' + "é".repeat(2049) + '"')).toBe("string longer than the limit of 4096 bytes at byte 0");
    const items = "[" + "0,".repeat(LIMITS.ENTRIES) + "0]";
    expect(err(items)).toBe("more than 100000 items in an array (the limit per array) at byte 200001");
    expect(parseJson("[" + "0,".repeat(LIMITS.ENTRIES - 1) + "0]").ok).toBe(true);
  });
});
