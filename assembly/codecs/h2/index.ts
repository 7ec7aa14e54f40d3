// HTTP/2 with prior knowledge (h2c, and gRPC without TLS): the client connection preface.
// RFC 9113 §3.4: the preface starts with the 24 octets "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// Envoy's http_inspector compares the same string (HTTP2_CONNECTION_PREFACE in
// source/extensions/filters/listener/http_inspector/http_inspector.cc).
import { Decision } from "../detect/result";
import { prefixWord } from "../detect/bytes";

export const H2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
export const H2_PREFACE_LENGTH: i32 = 24;
/** H2_PREFACE as three little-endian u64 words (the spec checks they spell H2_PREFACE). */
export const H2_PREFACE_W0: u64 = 0x5448202a20495250; // "PRI * HT"
export const H2_PREFACE_W1: u64 = 0x0a0d302e322f5054; // "TP/2.0\r\n"
export const H2_PREFACE_W2: u64 = 0x0a0d0a0d4d530a0d; // "\r\nSM\r\n\r\n"

export function detectH2(p: usize, len: i32): Decision {
  let n = prefixWord(p, len, 0, H2_PREFACE_W0, 8);
  if (n < 0) return Decision.NoMatch;
  if (n < 8) return Decision.NeedMoreData;
  n = prefixWord(p, len, 8, H2_PREFACE_W1, 8);
  if (n < 0) return Decision.NoMatch;
  if (n < 8) return Decision.NeedMoreData;
  n = prefixWord(p, len, 16, H2_PREFACE_W2, 8);
  if (n < 0) return Decision.NoMatch;
  return n == 8 ? Decision.Match : Decision.NeedMoreData;
}
