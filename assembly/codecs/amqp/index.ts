// AMQP 0-9-1: the client opens with the protocol header "AMQP" 0 0 9 1
// (AMQP 0-9-1 specification §4.2.2 "Protocol Header"; amqplib writes the same 8 bytes,
// node_modules/amqplib/lib/frame.js PROTOCOL_HEADER). AMQP 1.0 ("AMQP" 0 1 0 0, or 3 1 0 0
// for SASL) is a different protocol and is not matched here.
import { Decision } from "../detect/result";
import { prefixWord } from "../detect/bytes";

export const AMQP091_HEADER = "AMQP\x00\x00\x09\x01";
export const AMQP091_HEADER_LENGTH: i32 = 8;
/** AMQP091_HEADER as a little-endian u64 (the spec checks it spells AMQP091_HEADER). */
export const AMQP091_HEADER_WORD: u64 = 0x0109000050514d41;

export function detectAmqp(p: usize, len: i32): Decision {
  const n = prefixWord(p, len, 0, AMQP091_HEADER_WORD, AMQP091_HEADER_LENGTH);
  if (n < 0) return Decision.NoMatch;
  return n == AMQP091_HEADER_LENGTH ? Decision.Match : Decision.NeedMoreData;
}
