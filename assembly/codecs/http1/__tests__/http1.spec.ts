import { detectHttp1, Http1Scan, HTTP_METHODS } from "../index";
import { Decision } from "../../detect/result";
import { capture } from "../../__fixtures__/captures";
import { ptr, text } from "../../__fixtures__/bytes";

function scan(s: string): Http1Scan {
  const b = text(s);
  const st = new Http1Scan();
  detectHttp1(ptr(b), b.length, st);
  return st;
}

describe("http1 request line", () => {
  it("matches every registered method with HTTP/1.0 and HTTP/1.1", () => {
    for (let m = 0; m < HTTP_METHODS.length; m++) {
      const v11 = scan(HTTP_METHODS[m] + " /x HTTP/1.1\r\n");
      expect<i32>(v11.result).toBe(Decision.Match, HTTP_METHODS[m]);
      expect(v11.methodName()).toBe(HTTP_METHODS[m]);
      expect(v11.minor).toBe(1);
      const v10 = scan(HTTP_METHODS[m] + " /x HTTP/1.0\r\n");
      expect(v10.minor).toBe(0, HTTP_METHODS[m]);
    }
  });

  it("reports method, target and version of real node requests", () => {
    const c = capture("http1-connect");
    const st = new Http1Scan();
    expect<i32>(detectHttp1(c.ptr, c.length, st)).toBe(Decision.Match);
    expect(st.methodName()).toBe("CONNECT");
    expect(st.targetLength).toBe("orders.example.com:443".length);
    const g = capture("http10-get");
    const s2 = new Http1Scan();
    detectHttp1(g.ptr, g.length, s2);
    expect(s2.minor).toBe(0);
  });

  it("rules out a byte as soon as no method can contain it", () => {
    const b = text("GEX / HTTP/1.1\r\n");
    const st = new Http1Scan();
    expect<i32>(detectHttp1(ptr(b), 2, st)).toBe(Decision.NeedMoreData);
    expect<i32>(detectHttp1(ptr(b), 3, st)).toBe(Decision.NoMatch);
    expect(st.pos).toBe(2);
  });

  it("rejects unknown methods, control bytes in the target and other versions", () => {
    const bad = ["FOO / HTTP/1.1\r\n", "PRI * HTTP/2.0\r\n", "GET /a\tb HTTP/1.1\r\n", "GET / HTTP/2.0\r\n", "GET / HTTP/1.1x", "GET\t/ HTTP/1.1\r\n", "GET  / HTTP/1.1\r\n"];
    for (let i = 0; i < bad.length; i++) {
      expect<i32>(scan(bad[i]).result).toBe(Decision.NoMatch, bad[i]);
    }
  });

  it("resumes where it stopped", () => {
    const b = text("PROPPATCH /dav/a HTTP/1.1\r\n");
    const st = new Http1Scan();
    for (let n = 1; n < b.length - 1; n++) {
      expect<i32>(detectHttp1(ptr(b), n, st)).toBe(Decision.NeedMoreData, n.toString());
      expect(st.pos).toBe(n);
    }
    expect<i32>(detectHttp1(ptr(b), b.length, st)).toBe(Decision.Match);
  });
});
