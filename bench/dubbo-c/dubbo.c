/*
 * dubbo-c: the floor of the Dubbo decoder benchmark. The work of the AssemblyScript decoder's
 * Route level (assembly/codecs/dubbo/decoder.ts), written in plain C without libc: per frame,
 * the 16-byte header (magic, flags, status, request id, body length checked against 8 MiB),
 * then for a Hessian2 request the first four body strings (dubbo version, service path, service
 * version, method) read as offsets, each walked as Hessian2 UTF-8 counting UTF-16 units
 * (1-3 byte sequences; 4-byte leads rejected); the rest of the body is skipped by length.
 *
 * bench/dubbo.ts compiles it when clang is on PATH (skipped with one line otherwise):
 *   clang --target=wasm32 -nostdlib -O3 -Wl,--no-entry -Wl,--export-dynamic \
 *         -o build/bench/dubbo-c.wasm bench/dubbo-c/dubbo.c
 */

typedef unsigned char u8;
typedef unsigned int u32;
typedef int i32;
typedef long long i64;
typedef unsigned long long u64;

#define EXPORT(name) __attribute__((export_name(#name), visibility("default")))

#define HEADER 16
#define MAX_BODY (8 * 1024 * 1024)
#define INPUT_CAP (8 * 1024 * 1024)

static u8 input[INPUT_CAP];

/* The last frame's fields (last_frame below keeps the compiler from dropping them). */
struct str { i32 data, bytes, chars; };
static struct { i64 id; i32 body; u32 flags, status; struct str s[4]; } out;

EXPORT(input_buffer) u8 *input_buffer(i32 len) { return len <= INPUT_CAP ? input : 0; }

/* Skips n UTF-16 units of Hessian2 UTF-8 from pos; -1 short, -2 bad lead byte. */
static i32 skip_chars(const u8 *p, i32 pos, i32 end, i32 n) {
  while (n >= 8 && pos + 8 <= end) {
    u64 w;
    __builtin_memcpy(&w, p + pos, 8);
    if (w & 0x8080808080808080ull) break;
    pos += 8;
    n -= 8;
  }
  while (n > 0) {
    if (pos >= end) return -1;
    u32 b = p[pos];
    if (b < 0x80) pos += 1;
    else if (b >= 0xc0 && b < 0xe0) pos += 2;
    else if (b >= 0xe0 && b < 0xf0) pos += 3;
    else return -2;
    n--;
  }
  return pos > end ? -1 : pos;
}

/* One Hessian2 string (any chunking) at pos; returns the end or a negative error. */
static i32 read_string(const u8 *p, i32 pos, i32 end, struct str *s) {
  i32 chars = 0, first = 1, final = 0;
  while (!final) {
    if (pos >= end) return -1;
    u32 t = p[pos];
    i32 n;
    if (t <= 0x1f) { n = t; pos += 1; final = 1; }
    else if (t >= 0x30 && t <= 0x33) { if (pos + 2 > end) return -1; n = ((t - 0x30) << 8) | p[pos + 1]; pos += 2; final = 1; }
    else if (t == 'S' || t == 'R') { if (pos + 3 > end) return -1; n = (p[pos + 1] << 8) | p[pos + 2]; pos += 3; final = t == 'S'; }
    else return -2;
    i32 next = skip_chars(p, pos, end, n);
    if (next < 0) return next;
    if (first) { s->data = pos; s->bytes = next - pos; }
    chars += n;
    pos = next;
    first = 0;
  }
  s->chars = chars;
  return pos;
}

static int valid_status(u32 s) {
  return s == 20 || s == 30 || s == 31 || s == 40 || s == 50 || s == 60 || s == 70 || s == 80 || s == 90 || s == 100;
}

/* Decodes every whole frame in [p, p + len), n times. Returns the frames of the last pass or -1. */
EXPORT(decode_loop) i32 decode_loop(const u8 *p, i32 len, i32 n) {
  i32 frames = 0;
  for (i32 i = 0; i < n; i++) {
    i32 at = 0;
    frames = 0;
    while (len - at >= HEADER) {
      const u8 *h = p + at;
      if (h[0] != 0xda || h[1] != 0xbb) return -1;
      u32 flags = h[2];
      if ((flags & 0x1f) == 0) return -1;
      i32 body = (i32)(((u32)h[12] << 24) | ((u32)h[13] << 16) | ((u32)h[14] << 8) | h[15]);
      if (body <= 0 || body > MAX_BODY) return -1;
      out.flags = flags;
      out.status = h[3];
      if (!(flags & 0x80) && !valid_status(out.status)) return -1;
      u64 id = 0;
      for (int k = 4; k < 12; k++) id = (id << 8) | h[k];
      out.id = (i64)id;
      out.body = body;
      i32 pos = at + HEADER;
      i32 end = pos + body;
      if (end > len) break;
      if ((flags & 0x80) && (flags & 0x1f) == 2 && !(flags & 0x20)) {
        for (int k = 0; k < 4; k++) {
          pos = read_string(p, pos, end, &out.s[k]);
          if (pos < 0) return -1;
        }
      }
      at = end;
      frames++;
    }
  }
  return frames;
}

/* Where the last frame's fields are: exported so that the compiler keeps every store to `out`
 * (a static nobody reads is dead, and clang -O3 drops the stores, leaving a floor that records
 * nothing while the decoder it is the floor of records every field). */
EXPORT(last_frame) void *last_frame(void) { return &out; }
