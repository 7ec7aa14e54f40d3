// Dubbo 2 ("dubbo://") frame header, 16 bytes (apache/dubbo
// dubbo-remoting/.../exchange/codec/ExchangeCodec.java: HEADER_LENGTH 16, MAGIC 0xdabb,
// FLAG_REQUEST 0x80, FLAG_TWOWAY 0x40, FLAG_EVENT 0x20, SERIALIZATION_MASK 0x1f; envoy
// source/extensions/filters/network/dubbo_proxy/dubbo_protocol_impl.cc reads the same layout):
//   0-1 magic 0xda 0xbb | 2 flags: request, two-way, event, serialization id | 3 status
//   (responses only) | 4-11 request id | 12-15 body length (int32)
// A client's first frame is a request (or a heartbeat event request), so the request bit is
// required.
import { Decision } from "../detect/result";
import { at, be32 } from "../detect/bytes";

export const DUBBO_HEADER_LENGTH: i32 = 16;
export const DUBBO_FLAG_REQUEST: u32 = 0x80;
export const DUBBO_FLAG_TWO_WAY: u32 = 0x40;
export const DUBBO_FLAG_EVENT: u32 = 0x20;
/** Envoy dubbo_proxy DubboProtocolImpl::MaxBodySize ("invalid dubbo message size" above it or ≤ 0). */
export const DUBBO_MAX_BODY: u32 = 16 * 1024 * 1024;

export class DubboInfo {
  /** Serialization id: 2 hessian2, 3 java, 6 fastjson, 8 kryo, 9 fst, 21 gson, 22 protobuf-json… */
  serialization: u32 = 0;
  twoWay: bool = false;
  event: bool = false;
  bodyLength: u32 = 0;
  reset(): void {
    this.serialization = 0;
    this.twoWay = false;
    this.event = false;
    this.bodyLength = 0;
  }
}

export function detectDubbo(p: usize, len: i32, info: DubboInfo): Decision {
  if (len >= 1 && at(p, 0) != 0xda) return Decision.NoMatch;
  if (len >= 2 && at(p, 1) != 0xbb) return Decision.NoMatch;
  if (len >= 3) {
    const flags = at(p, 2);
    if ((flags & DUBBO_FLAG_REQUEST) == 0 || (flags & 0x1f) == 0) return Decision.NoMatch;
  }
  if (len < DUBBO_HEADER_LENGTH) return Decision.NeedMoreData;
  const body = be32(p, 12);
  if (body == 0 || body > DUBBO_MAX_BODY) return Decision.NoMatch;
  const flags = at(p, 2);
  info.serialization = flags & 0x1f;
  info.twoWay = (flags & DUBBO_FLAG_TWO_WAY) != 0;
  info.event = (flags & DUBBO_FLAG_EVENT) != 0;
  info.bodyLength = body;
  return Decision.Match;
}
