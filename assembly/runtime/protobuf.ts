// Minimal protobuf encoding for the messages Envoy's foreign functions take. Pure code.
import { LifeSpan } from "./enums";

/** Appends protobuf wire data to a growable byte buffer. */
export class ProtoWriter {
  private buf: Uint8Array = new Uint8Array(32);
  private len: i32 = 0;

  private reserve(extra: i32): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length << 1;
    while (cap < need) cap <<= 1;
    const next = new Uint8Array(cap);
    memory.copy(next.dataStart, this.buf.dataStart, <usize>this.len);
    this.buf = next;
  }

  varint(value: u64): void {
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.len++] = <u8>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    this.buf[this.len++] = <u8>v;
  }

  /** Field with wire type 0 (varint). */
  uint64Field(field: u32, value: u64): void {
    this.varint((<u64>field << 3) | 0);
    this.varint(value);
  }

  /** Field with wire type 2 (length-delimited). */
  bytesField(field: u32, data: ArrayBuffer): void {
    this.varint((<u64>field << 3) | 2);
    this.varint(<u64>data.byteLength);
    this.reserve(data.byteLength);
    memory.copy(this.buf.dataStart + <usize>this.len, changetype<usize>(data), <usize>data.byteLength);
    this.len += data.byteLength;
  }

  stringField(field: u32, value: string): void {
    this.bytesField(field, String.UTF8.encode(value));
  }

  finish(): ArrayBuffer {
    const out = new ArrayBuffer(this.len);
    memory.copy(changetype<usize>(out), this.buf.dataStart, <usize>this.len);
    return out;
  }
}

/**
 * `envoy.source.extensions.common.wasm.SetEnvoyFilterStateArguments { string path = 1;
 * string value = 2; LifeSpan span = 3; }` (Envoy source/extensions/common/wasm/ext/
 * set_envoy_filter_state.proto). Default-valued fields are omitted as proto3 does: an empty
 * string or span FilterChain (0) adds no bytes.
 */
export function encodeSetEnvoyFilterStateArguments(path: string, value: string, span: LifeSpan): ArrayBuffer {
  const w = new ProtoWriter();
  if (path.length > 0) w.stringField(1, path);
  if (value.length > 0) w.stringField(2, value);
  if (span != LifeSpan.FilterChain) w.uint64Field(3, <u64>span);
  return w.finish();
}
