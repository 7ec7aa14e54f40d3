/*
 * thrift_begin: the C floor of the Thrift message-begin bench. Plain C, no libc, compiled with
 * clang to wasm32 by bench/thrift.ts:
 *   clang --target=wasm32 -nostdlib -O3 -Wl,--no-entry -Wl,--export-dynamic \
 *         -o build/fixtures/thrift-begin-c.wasm bench/thrift-c/thrift_begin.c
 *
 * It does the least a router needs per request, with the same checks as
 * assembly/codecs/thrift/decoder.ts in DecodeMode.MessageBegin: the transport's frame start
 * (framed: int32 size 1..16 MiB; THeader: size, magic, header size, varint protocol id,
 * transforms, info key/value headers), the strict binary message begin (version, type, name
 * length, name, seq id), the multiplexed "Service:method" split, the reply's first field header,
 * then the frame skipped by its length. No allocation, no state kept between calls.
 */

typedef unsigned int u32;
typedef int i32;
typedef unsigned char u8;

#define EXPORT(name) __attribute__((export_name(#name), visibility("default")))

enum { MAX_FRAME = 16 * 1024 * 1024, HEADER_MAGIC = 0x0fff };

/* The input the driver copies a message into: a 2 MiB static buffer (largest payload 1 MiB). */
static u8 input[2 * 1024 * 1024 + 4096];

EXPORT(input_buffer) u8 *input_buffer(i32 len) { return len <= (i32)sizeof(input) ? input : 0; }

static u32 be16(const u8 *p) { return ((u32)p[0] << 8) | p[1]; }
static u32 be32(const u8 *p) { return ((u32)p[0] << 24) | ((u32)p[1] << 16) | ((u32)p[2] << 8) | p[3]; }

/* Unsigned varint (≤ 5 bytes) at p[*i] below end; -1 when it does not fit. */
static i32 varint(const u8 *p, i32 *i, i32 end) {
  u32 v = 0;
  for (i32 k = 0; k < 5; k++) {
    if (*i >= end) return -1;
    u8 b = p[(*i)++];
    v |= (u32)(b & 0x7f) << (7 * k);
    if (!(b & 0x80)) return (i32)v;
  }
  return -1;
}

/* Results of the last call, read by the driver (and keeping the work observable). */
static i32 method_offset, method_length, seq_id, message_type, headers;

/* Strict binary message begin at o, below lim. 0 on success, -1 need more, -2 error. */
static i32 binary_begin(const u8 *p, i32 o, i32 lim) {
  if (lim - o < 8) return -1;
  if (be16(p + o) != 0x8001) return -2;
  u32 type = p[o + 3];
  if (type < 1 || type > 4) return -2;
  u32 n = be32(p + o + 4);
  if (n > MAX_FRAME) return -2;
  if ((u32)(lim - o - 12) < n) return -1;
  i32 name = o + 8;
  method_offset = name;
  method_length = (i32)n;
  for (i32 k = 0; k < (i32)n; k++) {
    if (p[name + k] == ':') {
      method_offset = name + k + 1;
      method_length = (i32)n - k - 1;
      break;
    }
  }
  seq_id = (i32)be32(p + name + n);
  message_type = (i32)type;
  i32 at = name + (i32)n + 4;
  if (type == 2) { /* reply: success or declared exception from the first field header */
    if (at >= lim) return -1;
    if (p[at] != 0 && lim - at < 3) return -1;
  }
  return 0;
}

/* transport 1 = framed, 3 = header. Returns the frame end, or -1 / -2. */
static i32 message_begin(const u8 *p, i32 len, i32 transport) {
  if (len < 4) return -1;
  i32 size = (i32)be32(p);
  if (transport == 1) {
    if (size <= 0 || size > MAX_FRAME) return -2;
    i32 end = 4 + size;
    i32 r = binary_begin(p, 4, end < len ? end : len);
    if (r < 0) return r;
    return len >= end ? end : -1;
  }
  if (len < 14) return -1;
  if (size < 14 || size > MAX_FRAME || be16(p + 4) != HEADER_MAGIC) return -2;
  i32 hs = (i32)(short)be16(p + 12) * 4;
  if (hs <= 0 || hs > 65536 || hs + 10 > size) return -2;
  if (len < 14 + hs) return -1;
  i32 i = 14, hend = 14 + hs;
  i32 proto = varint(p, &i, hend);
  if (proto != 0) return -2; /* binary only in this floor */
  i32 xforms = varint(p, &i, hend);
  if (xforms != 0) return -2;
  headers = 0;
  while (i < hend) {
    i32 id = varint(p, &i, hend);
    if (id != 1) break;
    i32 count = varint(p, &i, hend);
    if (count < 0) return -2;
    for (i32 k = 0; k < count; k++) {
      for (i32 kv = 0; kv < 2; kv++) {
        i32 n = varint(p, &i, hend);
        if (n < 0 || n > hend - i) return -2;
        i += n;
      }
      headers++;
    }
  }
  i32 end = 4 + size;
  i32 r = binary_begin(p, hend, end < len ? end : len);
  if (r < 0) return r;
  return len >= end ? end : -1;
}

/* n times the message begin of the message at p; returns the last frame end + method length. */
EXPORT(begin_loop) i32 begin_loop(const u8 *p, i32 len, i32 n, i32 transport) {
  i32 r = 0;
  for (i32 k = 0; k < n; k++) {
    /* Keep the compiler from hoisting the pure call out of the loop. */
    __asm__ volatile("" : : "r"(p) : "memory");
    r = message_begin(p, len, transport);
  }
  return r < 0 ? r : r + method_length;
}
