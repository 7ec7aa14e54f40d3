// Incremental Dubbo 2 frame decoder: the 16-byte header and the Hessian2 request / response
// body, as an explicit state machine (one handler per state, headed `// From -> To`, after
// envoyproxy/envoy source/extensions/filters/network/thrift_proxy/decoder.cc).
//
// Wire format (apache/dubbo dubbo-remoting/.../exchange/codec/ExchangeCodec.java encodeRequest /
// encodeResponse; dubbo-rpc/dubbo/.../DubboCodec.java encodeRequestData / encodeResponseData;
// envoy source/extensions/filters/network/dubbo_proxy/dubbo_protocol_impl.cc reads the same
// header):
//   header   0xdabb | flags (0x80 request, 0x40 two-way, 0x20 event, low 5 bits serialization
//            id; hessian2 = 2) | status (responses) | int64 request id | int32 body length
//   request  string dubbo version, string service path, string service version, string method,
//            string parameter types (JVM descriptors, e.g. `Ljava/lang/String;I[J`), one value
//            per parameter, then the attachments map (absent in very old clients)
//   response status 20 (OK): int response type (0 exception, 1 value, 2 null; +3 with
//            attachments), the value (unless null), the attachments map when +3;
//            any other status: string error message
//   event    one value; a heartbeat's is null ('N')
//
// Contract (assembly/codecs/decoder.ts): `decode(p, len)` over the bytes seen so far answers
// NeedMoreData, Done (one frame's requested fields are readable) or Error (`error` names the bad
// value; the decoder stays failed). The decoder keeps an offset into the caller's buffer and never
// re-reads consumed bytes; several frames in one buffer come out one per `decode` call. Strings
// are kept as offsets into the caller's buffer and decoded only when asked. Once a frame's fields
// are out and its body goes on past the buffer (SkipBody), `skipUnread()` hands the rest of the
// body to the caller as a count, so a filter drops it without ever copying it.
//
// What is read is chosen per decoder (`DubboDecodeLevel`): Header only (the body is skipped by
// length as it streams past, so the cost does not depend on the body size), Route (request:
// header + dubbo version, service, version, method; response: + response type; the rest skipped
// by length), or Full (everything, including the parameter types, the arguments skipped value
// by value and the attachments; the whole body must be buffered first). Non-Hessian2 bodies are
// always skipped by length (`message.hessian2` false; `nonHessian2Frames` counts them).
import { DecodeStatus } from "../decoder";
import { Hessian2Reader, HStatus, HESSIAN2_DEFAULT_MAX_DEPTH, TAG_NULL, TAG_MAP, TAG_MAP_TYPED, hessianEquals, hessianString, isStringTag, scanString, SCAN_SHORT } from "./hessian2";
import { hex } from "../../runtime/hex";

export const DUBBO_MAGIC: u32 = 0xdabb;
export const DUBBO_HEADER_SIZE: i32 = 16;
export const DUBBO_SERIALIZATION_HESSIAN2: u32 = 2;
/** Default largest body accepted: 8 MiB (configurable per decoder). */
export const DUBBO_DEFAULT_MAX_BODY: i32 = 8 * 1024 * 1024;
/** Largest configurable body: body offsets stay in i32 with room for the header. */
export const DUBBO_MAX_BODY_LIMIT: i32 = 0x40000000;
/** Default cap on attachments kept per request; more is an error naming the count. */
export const DUBBO_DEFAULT_MAX_ATTACHMENTS: i32 = 1024;

// Response status (apache/dubbo org.apache.dubbo.remoting.exchange.Response).
export const DUBBO_STATUS_OK: u32 = 20;
export const DUBBO_STATUS_CLIENT_TIMEOUT: u32 = 30;
export const DUBBO_STATUS_SERVER_TIMEOUT: u32 = 31;
export const DUBBO_STATUS_BAD_REQUEST: u32 = 40;
export const DUBBO_STATUS_BAD_RESPONSE: u32 = 50;
export const DUBBO_STATUS_SERVICE_NOT_FOUND: u32 = 60;
export const DUBBO_STATUS_SERVICE_ERROR: u32 = 70;
export const DUBBO_STATUS_SERVER_ERROR: u32 = 80;
export const DUBBO_STATUS_CLIENT_ERROR: u32 = 90;
export const DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED: u32 = 100;

// Response body types (apache/dubbo DubboCodec RESPONSE_*).
export const RESPONSE_WITH_EXCEPTION: i32 = 0;
export const RESPONSE_VALUE: i32 = 1;
export const RESPONSE_NULL_VALUE: i32 = 2;
export const RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS: i32 = 3;
export const RESPONSE_VALUE_WITH_ATTACHMENTS: i32 = 4;
export const RESPONSE_NULL_VALUE_WITH_ATTACHMENTS: i32 = 5;

@inline export function isDubboResponseStatus(s: u32): bool {
  return s == 20 || s == 30 || s == 31 || s == 40 || s == 50 || s == 60 || s == 70 || s == 80 || s == 90 || s == 100;
}

export const enum DubboDecodeLevel {
  /** Header fields only; bodies skipped by length. */
  Header = 0,
  /** + request dubbo version, service path, service version, method; response type. */
  Route = 1,
  /** + parameter types, arguments (skipped), attachments; response value and attachments. */
  Full = 2,
}

export const enum DubboState {
  Header = 0,
  DubboVersion = 1,
  ServicePath = 2,
  ServiceVersion = 3,
  Method = 4,
  ParameterTypes = 5,
  Arguments = 6,
  Attachments = 7,
  ResponseType = 8,
  ResponseValue = 9,
  ResponseAttachments = 10,
  ErrorMessage = 11,
  EventBody = 12,
  SkipBody = 13,
  Failed = 14,
}

const STATE_NAMES: StaticArray<string> = [
  "Header", "DubboVersion", "ServicePath", "ServiceVersion", "Method", "ParameterTypes", "Arguments",
  "Attachments", "ResponseType", "ResponseValue", "ResponseAttachments", "ErrorMessage", "EventBody",
  "SkipBody", "Failed",
];

export function dubboStateName(s: DubboState): string {
  const i = <i32>s;
  return i >= 0 && i < STATE_NAMES.length ? unchecked(STATE_NAMES[i]) : "Unknown";
}

/**
 * A Hessian2 string in the caller's buffer (offsets from the buffer's start). Unmanaged, like
 * DubboMessage and DubboCursor: plain memory the GC does not track, so the hot path reads and
 * writes it without the shadow-stack spill AssemblyScript adds around every managed access.
 * These records are views into one managed buffer owned by their DubboDecoder (`records`), so
 * they live and die with it; they are never created with `new`.
 */
@unmanaged
export class DubboString {
  /** Offset of the string's first tag byte; -1 when absent. */
  tag: i32 = -1;
  /** Offset of the first chunk's UTF-8 data. */
  data: i32 = 0;
  /** Bytes of UTF-8 data when not chunked. */
  bytes: i32 = 0;
  /** Length in UTF-16 code units (Hessian's unit). */
  chars: i32 = 0;
  /** Longer than one chunk (> 32768 chars): compare by decoding. */
  chunked: bool = false;

  @inline get present(): bool {
    return this.tag >= 0;
  }

  /** Absent: the other fields are stale and never read while `tag` is -1. */
  @inline clear(): void {
    this.tag = -1;
  }

  @inline set(tag: i32, r: Hessian2Reader): void {
    this.tag = tag;
    this.data = r.strData;
    this.bytes = r.strBytes;
    this.chars = r.strChars;
    this.chunked = r.strChunked;
  }

  @inline shift(n: i32): void {
    if (this.tag >= 0) {
      this.tag -= n;
      this.data -= n;
    }
  }
}

/** The fields of the frame last reported Done (reset when the next frame starts). Unmanaged. */
@unmanaged
export class DubboMessage {
  isRequest: bool = false;
  twoWay: bool = false;
  event: bool = false;
  /**
   * An event whose body is Hessian2 null — or whose body was not decoded (Header level, another
   * serialization): Dubbo's heartbeat (apache/dubbo HeartbeatHandler, Request.HEARTBEAT_EVENT).
   */
  heartbeat: bool = false;
  serialization: u32 = 0;
  /** Serialization is Hessian2: the body fields below may be decoded. */
  hessian2: bool = false;
  /** Responses: the status byte. */
  status: u32 = 0;
  requestId: i64 = 0;
  bodyLength: i32 = 0;
  /** Offset of the frame's first byte in the caller's buffer. */
  frameStart: i32 = 0;
  /** The level of detail decoded for this frame (less than asked for non-Hessian2 and events). */
  decoded: DubboDecodeLevel = DubboDecodeLevel.Header;

  dubboVersion: DubboString = changetype<DubboString>(0);
  servicePath: DubboString = changetype<DubboString>(0);
  serviceVersion: DubboString = changetype<DubboString>(0);
  method: DubboString = changetype<DubboString>(0);
  parameterTypes: DubboString = changetype<DubboString>(0);
  /** Parameters counted from the descriptor (Full level). */
  argumentCount: i32 = 0;
  /** Response type (RESPONSE_*), or -1 when not decoded / not an OK response. */
  responseType: i32 = -1;
  /** A response error's message (status ≠ 20), Route level and up. */
  errorMessage: DubboString = changetype<DubboString>(0);
  attachmentCount: i32 = 0;

  get isException(): bool {
    return this.responseType == RESPONSE_WITH_EXCEPTION || this.responseType == RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS;
  }

  get responseHasAttachments(): bool {
    return this.responseType >= RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS;
  }

  /** Every field back to its start: the header fields, then what startFrame clears. */
  @inline reset(frameStart: i32): void {
    this.isRequest = false;
    this.twoWay = false;
    this.event = false;
    this.serialization = 0;
    this.hessian2 = false;
    this.status = 0;
    this.requestId = 0;
    this.bodyLength = 0;
    this.startFrame(frameStart);
  }

  /** A new frame: clears what the Header state does not write itself. */
  @inline startFrame(frameStart: i32): void {
    this.heartbeat = false;
    this.frameStart = frameStart;
    this.decoded = DubboDecodeLevel.Header;
    // The six string records lie one DUBBO_STRING_STRIDE apart from dubboVersion's, in field order
    // (DubboDecoder's constructor; layout test): clear them from one address.
    const s = changetype<usize>(this.dubboVersion) + offsetof<DubboString>("tag");
    store<i32>(s, -1);
    store<i32>(s + DUBBO_STRING_STRIDE, -1);
    store<i32>(s + 2 * DUBBO_STRING_STRIDE, -1);
    store<i32>(s + 3 * DUBBO_STRING_STRIDE, -1);
    store<i32>(s + 4 * DUBBO_STRING_STRIDE, -1);
    store<i32>(s + 5 * DUBBO_STRING_STRIDE, -1);
    this.argumentCount = 0;
    this.responseType = -1;
    this.attachmentCount = 0;
  }
}

// Attachment records: 6 i32 per entry in one growable array (no object per key).
const A_KEY_DATA = 0;
const A_KEY_BYTES = 1; // -1: chunked key
const A_KEY_TAG = 2;
const A_KEY_CHARS = 3;
const A_VALUE_TAG = 4;
/** Value kind: ≥ 0 chars of a string value (data right after its one-chunk header is not
 * stored: decode from the tag), -1 not a string. */
const A_VALUE_CHARS = 5;
export const ATTACHMENT_STRIDE: i32 = 6;

/** Per-decoder limits (every default in one place). */
export class DubboDecoderOptions {
  level: DubboDecodeLevel = DubboDecodeLevel.Full;
  /** Largest body accepted (bytes); a larger frame is an Error. */
  maxBody: i32 = DUBBO_DEFAULT_MAX_BODY;
  /** Hessian2 nesting limit of the skipper. */
  maxDepth: i32 = HESSIAN2_DEFAULT_MAX_DEPTH;
  /** Attachments kept per request; more is an Error. */
  maxAttachments: i32 = DUBBO_DEFAULT_MAX_ATTACHMENTS;
}

// Layout of a decoder's `records` buffer (8-byte aligned: DubboMessage holds an i64).
@inline function align8(n: usize): usize {
  return (n + 7) & ~(<usize>7);
}
const CURSOR_AT: usize = 0;
const MESSAGE_AT: usize = align8(offsetof<DubboCursor>());
/** Bytes from one string record to the next in a decoder's buffer (layout test). */
export const DUBBO_STRING_STRIDE: usize = align8(offsetof<DubboString>());
const STRINGS_AT: usize = MESSAGE_AT + align8(offsetof<DubboMessage>());
const RECORDS_SIZE: i32 = <i32>(STRINGS_AT + 6 * DUBBO_STRING_STRIDE);

const CONTINUE: i32 = -1;
const BAD_MAGIC: i32 = 0;
const BAD_SERIALIZATION: i32 = 1;
const BAD_BODY_LENGTH: i32 = 2;
const BODY_OVER_LIMIT: i32 = 3;
const BAD_STATUS: i32 = 4;

/** The decoder's hot state, unmanaged (see DubboString). */
@unmanaged
export class DubboCursor {
  state: DubboState = DubboState.Header;
  offset: i32 = 0;
  /** Offset where the current frame's body ends (may lie beyond the bytes seen so far). */
  bodyEnd: i32 = 0;
  /** Parameters still to skip (Arguments state). */
  argsLeft: i32 = 0;
  p: usize = 0;
  len: i32 = 0;
  level: DubboDecodeLevel = DubboDecodeLevel.Full;
  maxBody: i32 = 0;
  nonHessian2Frames: u32 = 0;
  // What the hot path failed on; the managed decoder turns it into the message.
  errCode: i32 = 0;
  errValue: i32 = 0;
  errAt: i32 = 0;
}

export class DubboDecoder {
  /** Names the bad value after Error. */
  error: string = "";
  readonly message: DubboMessage;
  maxAttachments: i32;
  private readonly c: DubboCursor;
  /** Backing memory of the unmanaged records (cursor, message, six strings); never moves. */
  private readonly records: StaticArray<u8>;
  private readonly reader: Hessian2Reader;
  private attachments: StaticArray<i32> = new StaticArray<i32>(8 * ATTACHMENT_STRIDE);

  constructor(options: DubboDecoderOptions | null = null) {
    const o = options != null ? options : new DubboDecoderOptions();
    this.maxAttachments = o.maxAttachments < 0 ? 0 : o.maxAttachments;
    const records = new StaticArray<u8>(RECORDS_SIZE);
    const base = changetype<usize>(records);
    const m = changetype<DubboMessage>(base + MESSAGE_AT);
    this.c = changetype<DubboCursor>(base + CURSOR_AT);
    this.message = m;
    this.records = records;
    this.reader = new Hessian2Reader(o.maxDepth);
    m.dubboVersion = changetype<DubboString>(base + STRINGS_AT);
    m.servicePath = changetype<DubboString>(base + STRINGS_AT + DUBBO_STRING_STRIDE);
    m.serviceVersion = changetype<DubboString>(base + STRINGS_AT + 2 * DUBBO_STRING_STRIDE);
    m.method = changetype<DubboString>(base + STRINGS_AT + 3 * DUBBO_STRING_STRIDE);
    m.parameterTypes = changetype<DubboString>(base + STRINGS_AT + 4 * DUBBO_STRING_STRIDE);
    m.errorMessage = changetype<DubboString>(base + STRINGS_AT + 5 * DUBBO_STRING_STRIDE);
    m.reset(0);
    const c = this.c;
    c.state = DubboState.Header;
    c.level = o.level;
    c.maxBody = o.maxBody < 1 ? 1 : o.maxBody > DUBBO_MAX_BODY_LIMIT ? DUBBO_MAX_BODY_LIMIT : o.maxBody;
  }

  get state(): DubboState {
    return this.c.state;
  }

  /** Offset in the caller's buffer of the first byte not consumed yet. */
  get offset(): i32 {
    return this.c.offset;
  }

  /** Frames whose body was not Hessian2 (header-only handling). */
  get nonHessian2Frames(): u32 {
    return this.c.nonHessian2Frames;
  }

  get level(): DubboDecodeLevel {
    return this.c.level;
  }

  get maxBody(): i32 {
    return this.c.maxBody;
  }

  /** A new connection (limits and level kept). */
  @inline reset(): void {
    const c = this.c;
    c.state = DubboState.Header;
    c.offset = 0;
    c.nonHessian2Frames = 0;
    c.bodyEnd = 0;
    c.argsLeft = 0;
    this.message.startFrame(0);
  }

  get stateName(): string {
    const c = this.c;
    return dubboStateName(c.state);
  }

  /**
   * The caller dropped the first `n` bytes of its buffer (at most `offset`): offsets shift down.
   * The message's string offsets shift too, so they stay valid if those bytes are still there.
   */
  discard(n: i32): bool {
    const c = this.c;
    if (n < 0 || n > c.offset) return false;
    c.offset -= n;
    c.bodyEnd -= n;
    const m = this.message;
    m.frameStart -= n;
    m.dubboVersion.shift(n);
    m.servicePath.shift(n);
    m.serviceVersion.shift(n);
    m.method.shift(n);
    m.parameterTypes.shift(n);
    m.errorMessage.shift(n);
    const a = this.attachments;
    for (let i = 0, k = m.attachmentCount * ATTACHMENT_STRIDE; i < k; i += ATTACHMENT_STRIDE) {
      unchecked((a[i + A_KEY_DATA] -= n));
      unchecked((a[i + A_KEY_TAG] -= n));
      unchecked((a[i + A_VALUE_TAG] -= n));
    }
    return true;
  }

  /**
   * In SkipBody with the body's end past the bytes seen (after NeedMoreData): the caller will not
   * hand over the rest of the body. Takes [offset, len) as consumed and ends the body at `len`;
   * returns how many stream bytes past `len` the caller drops uncopied before its next decode
   * (0: not skipping; nothing changes). The next bytes the caller appends are the next frame's.
   * Header and Route levels end a request before its body does; Full reads every Hessian2 body
   * whole, so it skips only what no level reads (another serialization's body).
   */
  skipUnread(): i32 {
    const c = this.c;
    const n = c.bodyEnd - c.len;
    if (c.state != DubboState.SkipBody || n <= 0) return 0;
    c.bodyEnd = c.len;
    c.offset = c.len;
    return n;
  }

  /** Decodes over the `len` bytes at `p`: the caller's whole buffer (consumed bytes included). */
  decode(p: usize, len: i32): DecodeStatus {
    const c = this.c;
    c.p = p;
    c.len = len;
    while (true) {
      // Header, the request's leading strings and SkipBody run without touching a managed object.
      let r = decodeHot(c, this.message);
      if (r == HOT_FAILED_HEADER) return <DecodeStatus>this.headerError(c.errCode, c.errValue, c.errAt);
      if (r == HOT_FAILED_STRING) return <DecodeStatus>this.stringFailed(c.errValue, c.errAt);
      if (r != HOT_SLOW) return <DecodeStatus>r;
      switch (c.state) {
        case DubboState.ParameterTypes: r = this.onParameterTypes(); break;
        case DubboState.Arguments: r = this.onArguments(); break;
        case DubboState.Attachments: r = this.onAttachments(); break;
        case DubboState.ResponseType: r = this.onResponseType(); break;
        case DubboState.ResponseValue: r = this.onResponseValue(); break;
        case DubboState.ResponseAttachments: r = this.onResponseAttachments(); break;
        case DubboState.ErrorMessage: r = this.onErrorMessage(); break;
        case DubboState.EventBody: r = this.onEventBody(); break;
        default: return DecodeStatus.Error; // Failed
      }
      if (r != CONTINUE) return <DecodeStatus>r;
    }
  }

  // ---- helpers ----

  private fail(message: string): i32 {
    const c = this.c;
    this.error = "dubbo " + dubboStateName(c.state) + ": " + message;
    c.state = DubboState.Failed;
    return <i32>DecodeStatus.Error;
  }

  /** Cold path of the Header state: builds the message off the hot path. */
  private headerError(code: i32, value: i32, at: i32): i32 {
    switch (code) {
      case BAD_MAGIC: return this.fail("invalid dubbo magic 0x" + hex(<u32>value) + " at offset " + at.toString());
      case BAD_SERIALIZATION: return this.fail("invalid dubbo serialization id " + value.toString());
      case BAD_BODY_LENGTH: return this.fail("invalid dubbo body length " + value.toString());
      case BODY_OVER_LIMIT: return this.fail("dubbo body length " + value.toString() + " exceeds the limit " + this.c.maxBody.toString());
      default: return this.fail("invalid dubbo response status " + value.toString());
    }
  }

  @inline private availableEnd(): i32 {
    return availableEnd(this.c);
  }

  @inline private done(level: DubboDecodeLevel): i32 {
    return finish(this.c, this.message, level);
  }

  /** Maps a reader failure: Short before the body end means wait; otherwise the frame is bad. */
  private readerFailed(s: HStatus): i32 {
    const c = this.c;
    if (s == HStatus.Short && c.len < c.bodyEnd) return <i32>DecodeStatus.NeedMoreData;
    return this.fail(this.reader.error);
  }

  /** Reads one string field at `offset` into `into`; CONTINUE on success. */
  @inline private stringField(into: DubboString, next: DubboState): i32 {
    const c = this.c;
    const r = stringField(c, into, next);
    return r == HOT_FAILED_STRING ? this.stringFailed(c.errValue, c.errAt) : r;
  }

  /** Cold path of `stringField`: NeedMoreData before the body end, else the reader's message. */
  private stringFailed(code: i32, at: i32): i32 {
    const c = this.c;
    const r = this.reader;
    r.rebase(c.p, this.availableEnd());
    return this.readerFailed(r.stringFailed(code, at));
  }

  /** Full-level states read only once the whole body is buffered. */
  @inline private wholeBody(): bool {
    const c = this.c;
    return c.len >= c.bodyEnd;
  }

  // ---- states ----

  // ParameterTypes -> Arguments
  private onParameterTypes(): i32 {
    const c = this.c;
    const m = this.message;
    const r = this.stringField(m.parameterTypes, DubboState.Arguments);
    if (r != CONTINUE) return r;
    const t = m.parameterTypes;
    const n = t.chunked ? countDescriptorString(hessianString(c.p, t.tag, c.len, t.chars)) : countDescriptor(c.p, t.data, t.bytes);
    if (n < 0) {
      c.state = DubboState.ParameterTypes;
      const text = t.chunked ? "(chunked)" : hessianString(c.p, t.tag, c.len, t.chars);
      return this.fail("invalid dubbo parameter types descriptor \"" + text + "\" at character " + (-n - 1).toString());
    }
    m.argumentCount = n;
    c.argsLeft = n;
    return CONTINUE;
  }

  // Arguments -> Attachments
  private onArguments(): i32 {
    const c = this.c;
    const m = this.message;
    if (!this.wholeBody()) return <i32>DecodeStatus.NeedMoreData;
    const r = this.reader;
    r.reset(c.p, c.offset, c.bodyEnd); // a new body: class definitions start over
    r.pos = c.offset;
    while (c.argsLeft > 0) {
      const s = r.skipValue();
      if (s != HStatus.Ok) return this.fail("argument " + (m.argumentCount - c.argsLeft).toString() + ": " + r.error);
      c.offset = r.pos;
      c.argsLeft--;
    }
    c.state = DubboState.Attachments;
    return CONTINUE;
  }

  // Attachments -> Header / SkipBody (done)
  private onAttachments(): i32 {
    const r = this.readAttachments();
    if (r != CONTINUE) return r;
    return this.done(DubboDecodeLevel.Full);
  }

  // ResponseType -> ResponseValue (Full) | done (Route)
  private onResponseType(): i32 {
    const c = this.c;
    const m = this.message;
    const r = this.reader;
    r.rebase(c.p, this.availableEnd());
    r.pos = c.offset;
    const s = r.readInt();
    if (s != HStatus.Ok) return this.readerFailed(s);
    const t = r.intValue;
    if (t < RESPONSE_WITH_EXCEPTION || t > RESPONSE_NULL_VALUE_WITH_ATTACHMENTS) return this.fail("invalid dubbo response type " + t.toString());
    m.responseType = <i32>t;
    c.offset = r.pos;
    if (c.level == DubboDecodeLevel.Route) return this.done(DubboDecodeLevel.Route);
    c.state = DubboState.ResponseValue;
    return CONTINUE;
  }

  // ResponseValue -> ResponseAttachments | done
  private onResponseValue(): i32 {
    const c = this.c;
    if (!this.wholeBody()) return <i32>DecodeStatus.NeedMoreData;
    this.reader.reset(c.p, c.offset, c.bodyEnd);
    const m = this.message;
    const t = m.responseType;
    if (t != RESPONSE_NULL_VALUE && t != RESPONSE_NULL_VALUE_WITH_ATTACHMENTS) {
      const r = this.reader;
      r.rebase(c.p, c.bodyEnd);
      r.pos = c.offset;
      const s = r.skipValue();
      if (s != HStatus.Ok) return this.fail(r.error);
      c.offset = r.pos;
    }
    if (m.responseHasAttachments) {
      c.state = DubboState.ResponseAttachments;
      return CONTINUE;
    }
    return this.done(DubboDecodeLevel.Full);
  }

  // ResponseAttachments -> done
  private onResponseAttachments(): i32 {
    const r = this.readAttachments();
    if (r != CONTINUE) return r;
    return this.done(DubboDecodeLevel.Full);
  }

  // ErrorMessage -> done
  private onErrorMessage(): i32 {
    const c = this.c;
    const m = this.message;
    const r = this.stringField(m.errorMessage, DubboState.SkipBody);
    if (r != CONTINUE) return r;
    return this.done(c.level);
  }

  // EventBody -> done
  private onEventBody(): i32 {
    const c = this.c;
    const m = this.message;
    if (!this.wholeBody()) return <i32>DecodeStatus.NeedMoreData;
    const r = this.reader;
    r.reset(c.p, c.offset, c.bodyEnd);
    r.pos = c.offset;
    const isNull = load<u8>(c.p + <usize>c.offset) == TAG_NULL;
    const s = r.skipValue();
    if (s != HStatus.Ok) return this.fail(r.error);
    c.offset = r.pos;
    m.heartbeat = isNull;
    return this.done(c.level);
  }

  /** The attachments map at `offset` (whole body buffered): 'H' / 'M' type / null / absent. */
  private readAttachments(): i32 {
    const c = this.c;
    if (!this.wholeBody()) return <i32>DecodeStatus.NeedMoreData;
    const m = this.message;
    const r = this.reader;
    r.rebase(c.p, c.bodyEnd);
    r.pos = c.offset;
    m.attachmentCount = 0;
    if (c.offset >= c.bodyEnd) return CONTINUE; // old clients: no map
    const t = load<u8>(c.p + <usize>c.offset);
    if (t == TAG_NULL) {
      c.offset++;
      return CONTINUE;
    }
    if (t != TAG_MAP && t != TAG_MAP_TYPED) {
      return this.fail("expected the attachments map at offset " + c.offset.toString() + ", found tag 0x" + hex(<u32>t));
    }
    r.pos = c.offset + 1;
    if (t == TAG_MAP_TYPED) {
      const tt = r.peek();
      const s = tt >= 0 && isStringTag(<u32>tt) ? r.readString() : r.readInt();
      if (s != HStatus.Ok) return this.fail("attachments map type: " + r.error);
    }
    while (true) {
      const kt = r.peek();
      if (kt < 0) return this.fail("attachments map at offset " + c.offset.toString() + " has no end marker before the body ends");
      if (kt == 0x5a) {
        r.pos++;
        break;
      }
      const keyTag = r.pos;
      const keyIsString = isStringTag(<u32>kt);
      let s = keyIsString ? r.readString() : r.skipValue();
      if (s != HStatus.Ok) return this.fail("attachment key: " + r.error);
      const keyData = r.strData;
      const keyBytes = r.strChunked ? -1 : r.strBytes;
      const keyChars = r.strChars;
      const valueTag = r.pos;
      const vt = r.peek();
      let valueChars = -1;
      if (vt >= 0 && isStringTag(<u32>vt)) {
        s = r.readString();
        valueChars = r.strChars;
      } else {
        s = r.skipValue();
      }
      if (s != HStatus.Ok) return this.fail("attachment value: " + r.error);
      if (!keyIsString) continue; // Dubbo's keys are strings; others cannot be looked up by name
      const i = m.attachmentCount;
      if (i >= this.maxAttachments) return this.fail("more than " + this.maxAttachments.toString() + " attachments");
      this.grow(i + 1);
      const a = this.attachments;
      const b = i * ATTACHMENT_STRIDE;
      unchecked((a[b + A_KEY_DATA] = keyData));
      unchecked((a[b + A_KEY_BYTES] = keyBytes));
      unchecked((a[b + A_KEY_TAG] = keyTag));
      unchecked((a[b + A_KEY_CHARS] = keyChars));
      unchecked((a[b + A_VALUE_TAG] = valueTag));
      unchecked((a[b + A_VALUE_CHARS] = valueChars));
      m.attachmentCount = i + 1;
    }
    c.offset = r.pos;
    return CONTINUE;
  }

  private grow(entries: i32): void {
    const need = entries * ATTACHMENT_STRIDE;
    const old = this.attachments;
    if (need <= old.length) return;
    let cap = old.length * 2;
    while (cap < need) cap *= 2;
    const next = new StaticArray<i32>(cap);
    memory.copy(changetype<usize>(next), changetype<usize>(old), <usize>old.length << 2);
    this.attachments = next;
  }

  // ---- accessors (valid after Done while the caller's buffer holds the frame) ----

  /** Decodes a string field of the message (allocates); "" when absent. */
  stringOf(s: DubboString): string {
    const c = this.c;
    if (s.tag < 0) return "";
    return hessianString(c.p, s.tag, c.len, s.chars);
  }

  /** Whether a string field equals `text`, without allocating (except for chunked strings). */
  stringEquals(s: DubboString, text: string): bool {
    const c = this.c;
    if (s.tag < 0) return false;
    if (s.chars != text.length) return false;
    if (s.chunked) return this.stringOf(s) == text;
    return hessianEquals(c.p, s.data, s.bytes, text);
  }

  /** Index of the attachment whose key equals `key`, or -1 (no allocation for unchunked keys). */
  attachmentIndex(key: string): i32 {
    const c = this.c;
    const m = this.message;
    const a = this.attachments;
    const n = m.attachmentCount;
    const chars = key.length;
    for (let i = 0; i < n; i++) {
      const b = i * ATTACHMENT_STRIDE;
      if (unchecked(a[b + A_KEY_CHARS]) != chars) continue;
      const bytes = unchecked(a[b + A_KEY_BYTES]);
      if (bytes >= 0) {
        if (hessianEquals(c.p, unchecked(a[b + A_KEY_DATA]), bytes, key)) return i;
      } else if (this.attachmentKey(i) == key) {
        return i;
      }
    }
    return -1;
  }

  attachmentKey(i: i32): string {
    const c = this.c;
    const m = this.message;
    if (i < 0 || i >= m.attachmentCount) return "";
    const b = i * ATTACHMENT_STRIDE;
    return hessianString(c.p, unchecked(this.attachments[b + A_KEY_TAG]), c.len, unchecked(this.attachments[b + A_KEY_CHARS]));
  }

  /** Whether attachment `i`'s value is a string (other values are skipped, not decoded). */
  attachmentIsString(i: i32): bool {
    const m = this.message;
    if (i < 0 || i >= m.attachmentCount) return false;
    return unchecked(this.attachments[i * ATTACHMENT_STRIDE + A_VALUE_CHARS]) >= 0;
  }

  /** Attachment `i`'s value as a string (allocates); null when not a string. */
  attachmentValue(i: i32): string | null {
    const c = this.c;
    if (!this.attachmentIsString(i)) return null;
    const b = i * ATTACHMENT_STRIDE;
    return hessianString(c.p, unchecked(this.attachments[b + A_VALUE_TAG]), c.len, unchecked(this.attachments[b + A_VALUE_CHARS]));
  }

  /** Offset of attachment `i`'s value (its first tag byte) in the caller's buffer. */
  attachmentValueOffset(i: i32): i32 {
    const m = this.message;
    if (i < 0 || i >= m.attachmentCount) return -1;
    return unchecked(this.attachments[i * ATTACHMENT_STRIDE + A_VALUE_TAG]);
  }

  /** The string value of attachment `key`, or null (absent or not a string). */
  attachment(key: string): string | null {
    return this.attachmentValue(this.attachmentIndex(key));
  }
}

// ---- the hot states ----
// Functions over the unmanaged cursor and message: no managed object is live, so no shadow-stack
// frame is set up per call. They answer a DecodeStatus, CONTINUE, or one of these:
/** The state needs the managed decoder (Hessian2 reader, attachments, messages). */
const HOT_SLOW: i32 = -2;
/** The header is invalid: c.errCode / errValue / errAt say how. */
const HOT_FAILED_HEADER: i32 = -3;
/** A string field failed past the body end: c.errValue is the scan code, c.errAt the field. */
const HOT_FAILED_STRING: i32 = -4;

/** Bytes of the body present so far end here. */
@inline function availableEnd(c: DubboCursor): i32 {
  return c.len < c.bodyEnd ? c.len : c.bodyEnd;
}

/** The frame is complete: remaining body bytes (if any) are skipped before the next header. */
@inline function finish(c: DubboCursor, m: DubboMessage, level: DubboDecodeLevel): i32 {
  m.decoded = level;
  if (c.len >= c.bodyEnd) {
    // The rest of the body is here: step over it now rather than through SkipBody.
    c.state = DubboState.Header;
    c.offset = c.bodyEnd;
  } else {
    c.state = DubboState.SkipBody;
  }
  return <i32>DecodeStatus.Done;
}

/** A big-endian int32 at `p + offset` (bswap<u32> is a call in this build; this inlines). */
@inline function be32(p: usize, offset: usize): i32 {
  const v = load<u32>(p + offset);
  return <i32>(rotl<u32>(v & 0xff00ff00, 8) | rotr<u32>(v & 0x00ff00ff, 8));
}

@inline function headerFailed(c: DubboCursor, code: i32, value: i32, at: i32): i32 {
  c.errCode = code;
  c.errValue = value;
  c.errAt = at;
  return HOT_FAILED_HEADER;
}

/** Reads one string field at `offset` into `into`; CONTINUE on success. */
@inline function stringField(c: DubboCursor, into: DubboString, next: DubboState): i32 {
  const at = c.offset;
  const end = scanField(c.p, at, availableEnd(c), into);
  if (end < 0) return stringStopped(c, end, at);
  c.offset = end;
  c.state = next;
  return CONTINUE;
}

// Header -> DubboVersion | ResponseType | ErrorMessage | EventBody | SkipBody
@inline function onHeader(c: DubboCursor, m: DubboMessage): i32 {
  const at = c.offset;
  if (c.len - at < DUBBO_HEADER_SIZE) return <i32>DecodeStatus.NeedMoreData;
  const h = c.p + <usize>at;
  const magic = (<u32>load<u8>(h) << 8) | <u32>load<u8>(h, 1);
  if (magic != DUBBO_MAGIC) return headerFailed(c, BAD_MAGIC, <i32>magic, at);
  const flags = <u32>load<u8>(h, 2);
  const serialization = flags & 0x1f;
  if (serialization == 0) return headerFailed(c, BAD_SERIALIZATION, 0, at);
  const body = be32(h, 12);
  // Envoy: "invalid dubbo message size" when body <= 0 or > MaxBodySize (dubbo_protocol_impl.cc).
  if (body <= 0) return headerFailed(c, BAD_BODY_LENGTH, body, at);
  if (body > c.maxBody) return headerFailed(c, BODY_OVER_LIMIT, body, at);
  const isRequest = (flags & 0x80) != 0;
  const status = <u32>load<u8>(h, 3);
  if (!isRequest && !isDubboResponseStatus(status)) return headerFailed(c, BAD_STATUS, <i32>status, at);
  const event = (flags & 0x20) != 0;
  const hessian2 = serialization == DUBBO_SERIALIZATION_HESSIAN2;
  m.startFrame(at);
  m.isRequest = isRequest;
  m.twoWay = (flags & 0x40) != 0;
  m.event = event;
  m.serialization = serialization;
  m.hessian2 = hessian2;
  m.status = status;
  m.requestId = <i64>bswap<u64>(load<u64>(h, 4));
  m.bodyLength = body;
  const start = at + DUBBO_HEADER_SIZE;
  c.offset = start;
  c.bodyEnd = start + body;
  const level = c.level;
  if (!hessian2) {
    c.nonHessian2Frames++;
    m.heartbeat = event;
    return finish(c, m, DubboDecodeLevel.Header);
  }
  if (event) {
    if (level == DubboDecodeLevel.Header) {
      m.heartbeat = true;
      return finish(c, m, DubboDecodeLevel.Header);
    }
    c.state = DubboState.EventBody;
    return CONTINUE;
  }
  if (level == DubboDecodeLevel.Header) return finish(c, m, DubboDecodeLevel.Header);
  if (isRequest) c.state = DubboState.DubboVersion;
  else if (status == DUBBO_STATUS_OK) c.state = DubboState.ResponseType;
  else c.state = DubboState.ErrorMessage;
  return CONTINUE;
}

/** One string field at `at` into `into`: its end, or a SCAN_* code. */
@inline function scanField(p: usize, at: i32, end: i32, into: DubboString): i32 {
  const next = scanString(p, at, end, into);
  if (next >= 0) into.tag = at;
  return next;
}

/** A string field stopped at `at` with scan code `code`: wait for more, or fail. */
@inline function stringStopped(c: DubboCursor, code: i32, at: i32): i32 {
  if (code == SCAN_SHORT && c.len < c.bodyEnd) return <i32>DecodeStatus.NeedMoreData;
  c.errValue = code;
  c.errAt = at;
  return HOT_FAILED_STRING;
}

/**
 * The request's four leading strings, one state each, entered at any of them. A run over several
 * keeps the offset in a local and stores the cursor once, where it stops: every store to an
 * unmanaged record may alias the cursor as far as the engine knows, so a field re-read after
 * each string would be a real load (measured in bench/dubbo.ts).
 */
@inline function onRequestStrings(c: DubboCursor, m: DubboMessage): i32 {
  const p = c.p;
  const end = availableEnd(c);
  let state = c.state;
  let at = c.offset;
  let next = 0;
  switch (state) {
    // DubboVersion -> ServicePath
    case DubboState.DubboVersion: {
      next = scanField(p, at, end, m.dubboVersion);
      if (next < 0) break;
      at = next;
      state = DubboState.ServicePath;
    }
    // ServicePath -> ServiceVersion
    case DubboState.ServicePath: {
      next = scanField(p, at, end, m.servicePath);
      if (next < 0) break;
      at = next;
      state = DubboState.ServiceVersion;
    }
    // ServiceVersion -> Method
    case DubboState.ServiceVersion: {
      next = scanField(p, at, end, m.serviceVersion);
      if (next < 0) break;
      at = next;
      state = DubboState.Method;
    }
    // Method -> ParameterTypes (Full) | SkipBody / Header (Route: done)
    case DubboState.Method: {
      next = scanField(p, at, end, m.method);
      if (next < 0) break;
      at = next;
      state = DubboState.ParameterTypes;
    }
  }
  c.state = state;
  c.offset = at;
  if (next < 0) return stringStopped(c, next, at);
  if (c.level == DubboDecodeLevel.Route) return finish(c, m, DubboDecodeLevel.Route);
  return CONTINUE;
}

// SkipBody -> Header
@inline function onSkipBody(c: DubboCursor): i32 {
  if (c.len < c.bodyEnd) {
    // Consume what arrived so the caller may drop it; the rest is skipped on later calls.
    if (c.len > c.offset) c.offset = c.len;
    return <i32>DecodeStatus.NeedMoreData;
  }
  c.offset = c.bodyEnd;
  c.state = DubboState.Header;
  return CONTINUE;
}

/** Runs the hot states until one answers; HOT_SLOW for the states the managed decoder owns. */
@inline function decodeHot(c: DubboCursor, m: DubboMessage): i32 {
  while (true) {
    let r: i32;
    // A request's states follow each other: fall through instead of dispatching again.
    switch (c.state) {
      case DubboState.Header: {
        r = onHeader(c, m);
        if (r != CONTINUE) return r;
        if (c.state != DubboState.DubboVersion) break;
      }
      case DubboState.DubboVersion:
      case DubboState.ServicePath:
      case DubboState.ServiceVersion:
      case DubboState.Method: {
        r = onRequestStrings(c, m);
        if (r != CONTINUE) return r;
        break;
      }
      case DubboState.SkipBody: {
        r = onSkipBody(c);
        if (r != CONTINUE) return r;
        break;
      }
      default: return HOT_SLOW;
    }
  }
}

/**
 * Counts the parameters of a JVM method descriptor's parameter list (`Ljava/lang/String;I[J` → 3;
 * "" → 0). Returns -(i + 1) for a bad character at index i. apache/dubbo ReflectUtils
 * desc2classArray reads the same grammar: one of `ZBCDFIJS`, `L<name>;`, or `[` + a type.
 */
export function countDescriptor(p: usize, data: i32, bytes: i32): i32 {
  let n = 0;
  let i = 0;
  while (i < bytes) {
    const start = i;
    let c = <u32>load<u8>(p + <usize>(data + i));
    while (c == 0x5b) { // '['
      i++;
      if (i >= bytes) return -(start + 1);
      c = <u32>load<u8>(p + <usize>(data + i));
    }
    if (c == 0x4c) { // 'L' name ';'
      i++;
      const nameStart = i;
      while (i < bytes && load<u8>(p + <usize>(data + i)) != 0x3b) i++;
      if (i >= bytes || i == nameStart) return -(start + 1);
    } else if (!isPrimitiveDescriptor(c)) {
      return -(i + 1);
    }
    i++;
    n++;
  }
  return n;
}

function countDescriptorString(s: string): i32 {
  // Chunked (> 32768 chars): rare enough to pay for a UTF-16 → byte copy.
  const n = s.length;
  const buf = new StaticArray<u8>(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    unchecked((buf[i] = c < 0x80 ? <u8>c : 0));
  }
  return countDescriptor(changetype<usize>(buf), 0, n);
}

@inline function isPrimitiveDescriptor(c: u32): bool {
  // Z B C D F I J S
  return c == 0x5a || c == 0x42 || c == 0x43 || c == 0x44 || c == 0x46 || c == 0x49 || c == 0x4a || c == 0x53;
}
