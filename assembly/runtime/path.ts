// Property paths are segments joined by NUL: Envoy splits the path on '\0'
// (source/extensions/common/wasm/context.cc, Context::getProperty), so "source.address" as
// one string answers NotFound while ["source", "address"] works. Pure code.

/** UTF-8 bytes of the segments joined by `\0`. */
export function joinPath(segments: string[]): ArrayBuffer {
  const n = segments.length;
  if (n == 0) return new ArrayBuffer(0);
  let size = n - 1;
  for (let i = 0; i < n; i++) size += String.UTF8.byteLength(segments[i]);
  const out = new ArrayBuffer(size);
  let p = changetype<usize>(out);
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      store<u8>(p, 0);
      p += 1;
    }
    const s = segments[i];
    p += String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, p);
  }
  return out;
}

/** Splits a dotted name ("source.address") into segments for joinPath. */
export function splitDotted(name: string): string[] {
  return name.split(".");
}
