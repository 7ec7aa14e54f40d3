// HTTP/2 with prior knowledge (h2c, and gRPC without TLS): the client connection preface.
// RFC 9113 §3.4: the preface starts with the 24 octets "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// Envoy's http_inspector compares the same string (HTTP2_CONNECTION_PREFACE in
// source/extensions/filters/listener/http_inspector/http_inspector.cc).
import { Decision } from "../detect/result";
import { prefixOf } from "../detect/bytes";

export const H2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
export const H2_PREFACE_LENGTH: i32 = 24;

export function detectH2(p: usize, len: i32): Decision {
  const n = prefixOf(p, len, 0, H2_PREFACE);
  if (n < 0) return Decision.NoMatch;
  return n == H2_PREFACE_LENGTH ? Decision.Match : Decision.NeedMoreData;
}
