import { detectH2 } from "../index";
import { detectAmqp } from "../../amqp/index";
import { Decision } from "../../detect/result";
import { capture } from "../../__fixtures__/captures";
import { ptr, text } from "../../__fixtures__/bytes";

describe("h2 preface", () => {
  it("matches node http2 and grpc-js prior-knowledge prefaces after 24 bytes", () => {
    const names = ["h2c-prior-knowledge", "grpc-unary"];
    for (let i = 0; i < names.length; i++) {
      const c = capture(names[i]);
      for (let n = 0; n < 24; n++) expect<i32>(detectH2(c.ptr, n)).toBe(Decision.NeedMoreData, names[i]);
      expect<i32>(detectH2(c.ptr, 24)).toBe(Decision.Match, names[i]);
    }
  });

  it("rejects at the first differing byte", () => {
    const b = text("PRI * HTTP/1.1\r\n");
    expect<i32>(detectH2(ptr(b), 11)).toBe(Decision.NeedMoreData);
    expect<i32>(detectH2(ptr(b), 12)).toBe(Decision.NoMatch);
  });
});

describe("amqp 0-9-1 header", () => {
  it("matches amqplib's protocol header after 8 bytes", () => {
    const c = capture("amqp091-header");
    expect<i32>(detectAmqp(c.ptr, 7)).toBe(Decision.NeedMoreData);
    expect<i32>(detectAmqp(c.ptr, 8)).toBe(Decision.Match);
  });

  it("rejects AMQP 1.0", () => {
    const b = text("AMQP\x00\x01\x00\x00");
    expect<i32>(detectAmqp(ptr(b), b.length)).toBe(Decision.NoMatch);
  });
});
