import { JsonKind, parseJson } from "..";

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
    expect(err("")).toBe("expected a value, found end of input at offset 0");
    expect(err("{")).toBe("expected a string key, found end of input at offset 1");
    expect(err('{"a":1,}')).toBe("expected a string key, found '}' at offset 7");
    expect(err('{"a" 1}')).toBe("expected ':' after key \"a\", found '1' at offset 5");
    expect(err('{"a":1 "b":2}')).toBe("expected ',' or '}' in object, found '\"' at offset 7");
    expect(err("[1,]")).toBe("expected a value, found ']' at offset 3");
    expect(err("[1 2]")).toBe("expected ',' or ']' in array, found '2' at offset 3");
    expect(err('"abc')).toBe("unterminated string at offset 4");
    expect(err('"a\tb"')).toBe("unescaped control character 0x9 in string at offset 2");
    expect(err('"\\x"')).toBe("invalid escape 'x' at offset 2");
    expect(err('"\\u12G4"')).toBe("invalid \\u escape at offset 2");
    expect(err("01")).toBe("unexpected '1' after the value at offset 1");
    expect(err("-")).toBe("expected a digit, found end of input at offset 1");
    expect(err("1.")).toBe("expected a digit after '.', found end of input at offset 2");
    expect(err("1e+")).toBe("expected a digit in exponent, found end of input at offset 3");
    expect(err("tru")).toBe("expected a value, found 't' at offset 0");
    expect(err("{} x")).toBe("unexpected 'x' after the value at offset 3");
    expect(err("// c\n{}")).toBe("expected a value, found '/' at offset 0");
  });

  it("rejects duplicate keys", () => {
    expect(err('{"a":1,"a":2}')).toBe("duplicate key \"a\" at offset 7");
  });

  it("limits nesting depth", () => {
    expect(err("[".repeat(65))).toBe("nesting deeper than 64 at offset 64");
    expect(parseJson("[".repeat(64) + "]".repeat(64)).ok).toBe(true);
  });
});
