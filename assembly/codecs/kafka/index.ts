// Kafka request header (Kafka protocol guide, "Common Request and Response Structure";
// envoy contrib/kafka/filters/network/source/kafka_request_parser.h reads the same fields):
//   int32 size (bytes after itself) | int16 api_key | int16 api_version | int32 correlation_id |
//   nullable string client_id (int16 length, -1 = null) ...
// Nothing here is a magic number, so every field is sanity-bounded instead.
import { Decision } from "../detect/result";
import { at, be16, be32 } from "../detect/bytes";

/** Broker default socket.request.max.bytes (104857600). */
export const KAFKA_MAX_REQUEST_SIZE: u32 = 104857600;
/** Highest api_key accepted. Kafka 4.x defines keys up to the 80s; leave room. */
export const KAFKA_MAX_API_KEY: u32 = 127;
/** Highest api_version accepted (Fetch, the most revised api, is in the teens). */
export const KAFKA_MAX_API_VERSION: u32 = 63;
/** api_key + api_version + correlation_id + client_id length. */
const HEADER_AFTER_SIZE: u32 = 10;
export const KAFKA_MIN_BYTES: i32 = 14;

export class KafkaInfo {
  apiKey: i32 = -1;
  apiVersion: i32 = -1;
  reset(): void {
    this.apiKey = -1;
    this.apiVersion = -1;
  }
}

export function detectKafka(p: usize, len: i32, info: KafkaInfo): Decision {
  // size ≤ 104857600 = 0x06400000.
  if (len >= 1 && at(p, 0) > 0x06) return Decision.NoMatch;
  if (len >= 4) {
    const size = be32(p, 0);
    if (size < HEADER_AFTER_SIZE || size > KAFKA_MAX_REQUEST_SIZE) return Decision.NoMatch;
  }
  if (len >= 5 && at(p, 4) != 0) return Decision.NoMatch;
  if (len >= 6 && at(p, 5) > KAFKA_MAX_API_KEY) return Decision.NoMatch;
  if (len >= 7 && at(p, 6) != 0) return Decision.NoMatch;
  if (len >= 8 && at(p, 7) > KAFKA_MAX_API_VERSION) return Decision.NoMatch;
  if (len < KAFKA_MIN_BYTES) return Decision.NeedMoreData;
  const size = be32(p, 0);
  const clientIdLen = be16(p, 12);
  if (clientIdLen != 0xffff && clientIdLen > size - HEADER_AFTER_SIZE) return Decision.NoMatch;
  info.apiKey = <i32>at(p, 5);
  info.apiVersion = <i32>at(p, 7);
  return Decision.Match;
}
