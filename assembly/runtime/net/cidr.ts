// IPv4/IPv6 CIDR ranges and port ranges (the sniffer's `allowed_destinations`, every filter's CIDR
// and port-range fields through ../fields). Pure code: no host calls.
//
// Addresses are parsed from bytes (the `destination.address` property is "ip:port", IPv6 in
// brackets: Envoy Network::Address::Instance::asString) so the hot path builds no string.
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is matched as the IPv4 address: a dual-stack
// listener reports IPv4 peers that way. A CIDR's host bits are masked off, as Envoy's
// CidrRange does (source/common/network/cidr_range.cc).

/** An IP address: IPv4 in the low 32 bits of `lo`, IPv6 as two big-endian halves. */
export class IpAddr {
  v6: bool = false;
  hi: u64 = 0;
  lo: u64 = 0;
}

export class Cidr {
  constructor(public v6: bool, public hi: u64, public lo: u64, public bits: i32) {}
}

/** Inclusive port range. */
export class PortRange {
  constructor(public lo: i32, public hi: i32) {}
}

/** One `allowed_destinations` entry; no ports means every port. */
export class DestinationRule {
  constructor(public cidr: Cidr, public ports: PortRange[]) {}
}

@inline function ch(p: usize, i: i32): i32 {
  return <i32>load<u8>(p + <usize>i);
}

function hexVal(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Dotted quad over [p+from, p+to); -1 when malformed (leading zeros are refused, like inet_pton). */
function parseV4(p: usize, from: i32, to: i32): i64 {
  let v: u32 = 0;
  let parts = 0;
  let i = from;
  while (parts < 4) {
    if (i >= to) return -1;
    let n = 0;
    let digits = 0;
    const start = i;
    while (i < to && ch(p, i) >= 0x30 && ch(p, i) <= 0x39) {
      n = n * 10 + (ch(p, i) - 0x30);
      digits++;
      i++;
      if (digits > 3) return -1;
    }
    if (digits == 0 || n > 255) return -1;
    if (digits > 1 && ch(p, start) == 0x30) return -1;
    v = (v << 8) | <u32>n;
    parts++;
    if (parts < 4) {
      if (i >= to || ch(p, i) != 0x2e) return -1;
      i++;
    }
  }
  return i == to ? <i64>v : -1;
}

/** RFC 4291 §2.2 text form over [p+from, p+to), including "::" and a trailing dotted quad. */
// Scratch for parseV6 (single-threaded VM; no allocation per address).
const GROUPS = new StaticArray<u32>(8);
const FULL = new StaticArray<u32>(8);

function parseV6(p: usize, from: i32, to: i32, out: IpAddr): bool {
  const groups = GROUPS;
  for (let k = 0; k < 8; k++) groups[k] = 0;
  let n = 0;
  let gap = -1;
  let i = from;
  if (to - from >= 2 && ch(p, i) == 0x3a && ch(p, i + 1) == 0x3a) {
    gap = 0;
    i += 2;
    if (i == to) return finishV6(groups, n, gap, out);
  } else if (i < to && ch(p, i) == 0x3a) {
    return false;
  }
  while (i < to) {
    if (n >= 8) return false;
    // A dotted quad may end the address and fills two groups.
    let j = i;
    let dot = false;
    while (j < to && ch(p, j) != 0x3a) {
      if (ch(p, j) == 0x2e) dot = true;
      j++;
    }
    if (dot) {
      if (j != to || n > 6) return false;
      const v4 = parseV4(p, i, to);
      if (v4 < 0) return false;
      groups[n++] = <u32>(v4 >> 16);
      groups[n++] = <u32>(v4 & 0xffff);
      i = to;
      break;
    }
    const len = j - i;
    if (len < 1 || len > 4) return false;
    let g: u32 = 0;
    for (let k = i; k < j; k++) {
      const h = hexVal(ch(p, k));
      if (h < 0) return false;
      g = (g << 4) | <u32>h;
    }
    groups[n++] = g;
    i = j;
    if (i == to) break;
    // i is at ':'
    if (i + 1 < to && ch(p, i + 1) == 0x3a) {
      if (gap >= 0) return false;
      gap = n;
      i += 2;
      if (i == to) break;
    } else {
      i += 1;
      if (i == to) return false;
    }
  }
  return finishV6(groups, n, gap, out);
}

function finishV6(groups: StaticArray<u32>, n: i32, gap: i32, out: IpAddr): bool {
  if (gap < 0 && n != 8) return false;
  if (gap >= 0 && n > 7) return false;
  const full = FULL;
  for (let k = 0; k < 8; k++) full[k] = 0;
  if (gap < 0) {
    for (let k = 0; k < 8; k++) full[k] = groups[k];
  } else {
    const tail = n - gap;
    for (let k = 0; k < gap; k++) full[k] = groups[k];
    for (let k = 0; k < tail; k++) full[8 - tail + k] = groups[gap + k];
  }
  let hi: u64 = 0;
  let lo: u64 = 0;
  for (let k = 0; k < 4; k++) hi = (hi << 16) | <u64>full[k];
  for (let k = 4; k < 8; k++) lo = (lo << 16) | <u64>full[k];
  setV6(out, hi, lo);
  return true;
}

/** Stores an IPv6 address, unwrapping IPv4-mapped ones (::ffff:0:0/96). */
function setV6(out: IpAddr, hi: u64, lo: u64): void {
  if (hi == 0 && (lo >> 32) == 0xffff) {
    out.v6 = false;
    out.hi = 0;
    out.lo = lo & 0xffffffff;
    return;
  }
  out.v6 = true;
  out.hi = hi;
  out.lo = lo;
}

function hasColon(p: usize, from: i32, to: i32): bool {
  for (let i = from; i < to; i++) if (ch(p, i) == 0x3a) return true;
  return false;
}

/** Parses a bare IPv4 or IPv6 address over [p+from, p+to). */
export function parseIpPtr(p: usize, from: i32, to: i32, out: IpAddr): bool {
  if (from >= to) return false;
  if (hasColon(p, from, to)) return parseV6(p, from, to, out);
  const v = parseV4(p, from, to);
  if (v < 0) return false;
  out.v6 = false;
  out.hi = 0;
  out.lo = <u64>v;
  return true;
}

/**
 * Parses Envoy's "ip:port" / "[ipv6]:port" form over [p, p+len) into `out`; answers the port,
 * or -1 when the bytes are not an address with a port.
 */
export function parseHostPortPtr(p: usize, len: i32, out: IpAddr): i32 {
  let colon = -1;
  for (let i = len - 1; i >= 0; i--) {
    if (ch(p, i) == 0x3a) {
      colon = i;
      break;
    }
  }
  if (colon <= 0 || colon == len - 1 || len - colon - 1 > 5) return -1;
  let port = 0;
  for (let i = colon + 1; i < len; i++) {
    const c = ch(p, i);
    if (c < 0x30 || c > 0x39) return -1;
    port = port * 10 + (c - 0x30);
  }
  if (port > 65535) return -1;
  let ok = false;
  if (ch(p, 0) == 0x5b) {
    if (ch(p, colon - 1) != 0x5d) return -1;
    ok = parseV6(p, 1, colon - 1, out);
  } else {
    const v = parseV4(p, 0, colon);
    if (v >= 0) {
      out.v6 = false;
      out.hi = 0;
      out.lo = <u64>v;
      ok = true;
    }
  }
  return ok ? port : -1;
}

export function parseHostPort(b: ArrayBuffer, out: IpAddr): i32 {
  return parseHostPortPtr(changetype<usize>(b), b.byteLength, out);
}

@inline function maskHi(bits: i32): u64 {
  if (bits <= 0) return 0;
  if (bits >= 64) return u64.MAX_VALUE;
  return u64.MAX_VALUE << <u64>(64 - bits);
}

@inline function maskLo(bits: i32): u64 {
  if (bits <= 64) return 0;
  if (bits >= 128) return u64.MAX_VALUE;
  return u64.MAX_VALUE << <u64>(128 - bits);
}

@inline function mask32(bits: i32): u64 {
  if (bits <= 0) return 0;
  return (<u64>0xffffffff << <u64>(32 - bits)) & 0xffffffff;
}

/**
 * "10.0.0.0/8", "2001:db8::/32", or a bare address (a single host). Null when malformed or
 * the prefix length is out of range (IPv4 0..32, IPv6 0..128).
 */
export function parseCidr(text: string): Cidr | null {
  const b = String.UTF8.encode(text);
  const p = changetype<usize>(b);
  const len = b.byteLength;
  let slash = -1;
  for (let i = 0; i < len; i++) {
    if (ch(p, i) == 0x2f) {
      slash = i;
      break;
    }
  }
  const addrEnd = slash < 0 ? len : slash;
  const a = new IpAddr();
  if (!parseIpPtr(p, 0, addrEnd, a)) return null;
  // "::ffff:10.0.0.0/104" is an IPv6 spelling of an IPv4 range.
  const mapped = !a.v6 && hasColon(p, 0, addrEnd);
  const max = a.v6 || mapped ? 128 : 32;
  let bits = max;
  if (slash >= 0) {
    const digits = len - slash - 1;
    if (digits < 1 || digits > 3) return null;
    bits = 0;
    for (let i = slash + 1; i < len; i++) {
      const c = ch(p, i);
      if (c < 0x30 || c > 0x39) return null;
      bits = bits * 10 + (c - 0x30);
    }
    if (digits > 1 && ch(p, slash + 1) == 0x30) return null;
    if (bits > max) return null;
  }
  if (mapped) {
    if (bits < 96) return null;
    bits -= 96;
  }
  if (a.v6) return new Cidr(true, a.hi & maskHi(bits), a.lo & maskLo(bits), bits);
  return new Cidr(false, 0, a.lo & mask32(bits), bits);
}

export function cidrContains(c: Cidr, a: IpAddr): bool {
  if (c.v6 != a.v6) return false;
  if (c.v6) return (a.hi & maskHi(c.bits)) == c.hi && (a.lo & maskLo(c.bits)) == c.lo;
  return (a.lo & mask32(c.bits)) == c.lo;
}

/** "8000-8100" or "6379"; null when malformed, outside 1..65535 or reversed. */
export function parsePortRange(text: string): PortRange | null {
  const dash = text.indexOf("-");
  if (dash < 0) {
    const n = parsePort(text);
    return n < 0 ? null : new PortRange(n, n);
  }
  const lo = parsePort(text.substring(0, dash));
  const hi = parsePort(text.substring(dash + 1));
  if (lo < 0 || hi < 0 || hi < lo) return null;
  return new PortRange(lo, hi);
}

function parsePort(s: string): i32 {
  if (s.length < 1 || s.length > 5) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  if (s.length > 1 && s.charCodeAt(0) == 0x30) return -1;
  return n >= 1 && n <= 65535 ? n : -1;
}

/** True when some rule's CIDR holds the address and (no ports listed or) one of its ranges holds the port. */
export function destinationAllowed(rules: DestinationRule[], a: IpAddr, port: i32): bool {
  for (let i = 0; i < rules.length; i++) {
    const r = unchecked(rules[i]);
    if (!cidrContains(r.cidr, a)) continue;
    const ports = r.ports;
    if (ports.length == 0) return true;
    for (let k = 0; k < ports.length; k++) {
      const pr = unchecked(ports[k]);
      if (port >= pr.lo && port <= pr.hi) return true;
    }
  }
  return false;
}
