// Incremental Thrift message decoder: an explicit state machine with a fixed-capacity frame
// stack for nested structs, lists, sets and maps, after Envoy's thrift_proxy
// (source/extensions/filters/network/thrift_proxy/decoder.cc, docs/thrift_state_machine.md).
//
//   decoder.decode(p, len) → NeedMoreData | Done | Error
//
// [p, p + len) is the caller's buffer of the stream so far; the decoder keeps `pos`, so bytes it
// consumed are never read again when the buffer grows. Every read is length → peek →
// bounds-check → consume. After Done the message's fields (type, seq id, name offsets, THeader
// headers, reply kind) are readable until the next decode, which starts on the next message at
// `pos` (several messages may sit in one buffer). `discard(n)` tells the decoder the caller
// dropped the first n bytes; in DecodeMode.MessageBegin, `skipUnread()` lets it drop the rest of a
// framed payload without ever holding it (the caller counts those bytes off). Errors are values
// (`error` names the bad value in Envoy's words); nothing here throws, and payload values are
// skipped without allocating.
import { DecodeStatus } from "../decoder";
import { at, be16, be32 } from "../detect/bytes";
import { ThriftProtocol, ThriftTransport } from "./index";
import {
  BINARY_MAGIC,
  bi16,
  bi32,
  COMPACT_PROTOCOL_ID,
  COMPACT_VERSION,
  compactToFieldType,
  FieldType,
  hex,
  isValueType,
  MessageType,
  messageTypeName,
  varint32,
  varint64Size,
  varintSize,
  varintValue,
  VARINT_NEED_MORE,
  zigzag32,
} from "./protocol";
import {
  DEFAULT_MAX_FRAME_SIZE,
  HEADER_FIXED,
  HEADER_MAX_SIZE,
  HEADER_MIN_FRAME,
  HEADER_PROTOCOL_COMPACT,
  isHeaderMagic,
  ThriftHeaderFrame,
} from "./transport";

export { MessageType, messageTypeName, FieldType } from "./protocol";
export { ThriftHeaderFrame, DEFAULT_MAX_FRAME_SIZE, ENVOY_MAX_FRAME_SIZE } from "./transport";

/** Decoder states, in the order a message passes them. Names: THRIFT_STATE_NAMES. */
export const enum ThriftState {
  /** Transport frame start: framed size, THeader fixed part + header data, or nothing. */
  FrameStart = 0,
  MessageBegin = 1,
  StructBegin = 2,
  FieldBegin = 3,
  FieldValue = 4,
  FieldEnd = 5,
  StructEnd = 6,
  ListBegin = 7,
  ListValue = 8,
  SetBegin = 9,
  SetValue = 10,
  MapBegin = 11,
  MapKey = 12,
  MapValue = 13,
  /** The bytes of a string/binary value (consumed as they arrive). */
  ValueBytes = 14,
  MessageEnd = 15,
  /** Framed/header payload skipped by length (DecodeMode.MessageBegin). */
  SkipFrame = 16,
  FrameEnd = 17,
  Done = 18,
  Failed = 19,
}

export const THRIFT_STATE_NAMES: StaticArray<string> = [
  "FrameStart", "MessageBegin", "StructBegin", "FieldBegin", "FieldValue", "FieldEnd", "StructEnd",
  "ListBegin", "ListValue", "SetBegin", "SetValue", "MapBegin", "MapKey", "MapValue", "ValueBytes",
  "MessageEnd", "SkipFrame", "FrameEnd", "Done", "Failed",
];

// Shared message stems: each literal is stored once (as UTF-16) in every module that links the
// decoder, and these repeat across a dozen messages (wording from Envoy's compact/binary protocols).
const VARINT_I32 = "invalid compact protocol varint i32";
const NEGATIVE_BINARY = "negative binary protocol ";
const NEGATIVE_COMPACT = "negative compact protocol ";

export function thriftStateName(s: ThriftState): string {
  return <i32>s < THRIFT_STATE_NAMES.length ? THRIFT_STATE_NAMES[<i32>s] : "?";
}

export const enum DecodeMode {
  /** Walk the whole payload: validates it and finds the reply kind of every reply. */
  Full = 0,
  /**
   * Stop reading at the message begin (and a reply's first field header) and skip the rest of a
   * framed or THeader frame by its length: constant cost per message whatever the payload size.
   * Unframed messages have no length and are always walked.
   */
  MessageBegin = 1,
}

/** How a reply ended (Envoy ReplyType, binary_protocol_impl.cc peekReplyPayload). */
export const enum ReplyKind {
  /** Not a reply, or not known yet. */
  None = 0,
  /** REPLY whose result struct holds field 0 (or nothing: void). */
  Success = 1,
  /** REPLY whose result struct holds a field id ≠ 0: an exception declared in the IDL. */
  DeclaredException = 2,
  /** EXCEPTION message: a TApplicationException. */
  AppException = 3,
}

/** Why decode answered Error (the text is in `error`). */
export const enum ThriftErrorKind {
  None = 0,
  Transport = 1,
  Protocol = 2,
  /** THeader frame with a transform (zlib, hmac, snappy): its payload cannot be read. */
  UnknownTransform = 3,
  TooDeep = 4,
  TooLarge = 5,
}

export class ThriftDecoderConfig {
  /** ThriftTransport.None = auto-detect (framed, header or unframed) from the first frame. */
  transport: ThriftTransport = ThriftTransport.None;
  /**
   * ThriftProtocol.None = auto-detect binary or compact from the first message; THeader's
   * protocol id decides per frame. Lax binary is never auto-detected (as in Envoy).
   */
  protocol: ThriftProtocol = ThriftProtocol.None;
  /** Largest frame, and largest string or method name: 16 MiB. Envoy's own limit is 0xFA0000. */
  maxFrameSize: u32 = DEFAULT_MAX_FRAME_SIZE;
  /** Deepest nesting of structs/lists/sets/maps (the frame stack's capacity). */
  maxDepth: i32 = 64;
  mode: DecodeMode = DecodeMode.Full;
}

const enum Step {
  /** The state changed; run the next one. */
  Next = 0,
  Need = 1,
  Fail = 2,
  Done = 3,
}

/** Frame stack entry kinds share ThriftState numbering: the state to return to on pop. */
export class ThriftDecoder {
  readonly config: ThriftDecoderConfig;

  // ---- per-message results (valid after Done until the next decode) ----
  transport: ThriftTransport = ThriftTransport.None;
  protocol: ThriftProtocol = ThriftProtocol.None;
  messageType: MessageType = MessageType.None;
  seqId: i32 = 0;
  /** Offset of the message begin (the frame's first byte for framed/header). */
  messageStart: i32 = 0;
  /** Frame size from the transport (excluding the 4 size bytes); 0 when unframed. */
  frameSize: i32 = 0;
  /** Method name as sent ("Service:method" when multiplexed): offset into the caller's buffer. */
  nameOffset: i32 = -1;
  nameLength: i32 = 0;
  /** Multiplexed service name (before the first ':'), length 0 when not multiplexed. */
  serviceLength: i32 = 0;
  methodOffset: i32 = -1;
  methodLength: i32 = 0;
  /** True once the message begin of the current message was read (before Done, too). */
  messageBeginReady: bool = false;
  replyKind: ReplyKind = ReplyKind.None;
  /** First field id of a reply's result struct (0 = success), -1 for a void reply or none. */
  replyFieldId: i32 = -1;
  /** TApplicationException (EXCEPTION message) type (field 2) and message (field 1), Full mode. */
  appExceptionType: i32 = -1;
  appExceptionMessageOffset: i32 = -1;
  appExceptionMessageLength: i32 = 0;
  /** THeader transport fields (count 0 for other transports). */
  readonly header: ThriftHeaderFrame = new ThriftHeaderFrame();
  /** Messages completed by this decoder. */
  messages: u32 = 0;

  // ---- error ----
  error: string = "";
  errorKind: ThriftErrorKind = ThriftErrorKind.None;
  /** The state that failed (log with thriftStateName). */
  errorState: ThriftState = ThriftState.FrameStart;

  // ---- machine ----
  state: ThriftState = ThriftState.FrameStart;
  /** Next unread byte. */
  pos: i32 = 0;
  private frameEnd: i32 = -1;
  private lim: i32 = 0;
  private len: i32 = 0;
  private p: usize = 0;
  private fieldType: u32 = 0;
  private fieldId: i32 = 0;
  /** Compact protocol: a bool field's value sits in its field header. */
  private boolInHeader: bool = false;
  private bytesLeft: i32 = 0;
  private bytesReturn: ThriftState = ThriftState.FieldEnd;
  private firstTopField: bool = true;
  // The configuration's numbers, copied once: hot states read no managed reference.
  private readonly maxFrame: u32;
  private readonly maxDepth: i32;
  private readonly skipPayload: bool;

  // The frame stack: parallel fixed-capacity arrays, allocated once.
  private depth: i32 = 0;
  private readonly retState: StaticArray<u8>;
  private readonly elemType: StaticArray<u8>;
  private readonly valType: StaticArray<u8>;
  private readonly remaining: StaticArray<u32>;
  private readonly lastFieldId: StaticArray<i32>;

  constructor(config: ThriftDecoderConfig = new ThriftDecoderConfig()) {
    this.config = config;
    this.maxFrame = config.maxFrameSize;
    this.maxDepth = config.maxDepth < 1 ? 1 : config.maxDepth;
    this.skipPayload = config.mode == DecodeMode.MessageBegin;
    const cap = (config.maxDepth < 1 ? 1 : config.maxDepth) + 1;
    this.retState = new StaticArray<u8>(cap);
    this.elemType = new StaticArray<u8>(cap);
    this.valType = new StaticArray<u8>(cap);
    this.remaining = new StaticArray<u32>(cap);
    this.lastFieldId = new StaticArray<i32>(cap);
    this.transport = config.transport;
    this.protocol = config.protocol;
  }

  /** Ready for a new connection (keeps the configuration and the stack's memory). */
  reset(): void {
    this.transport = this.config.transport;
    this.protocol = this.config.protocol;
    this.state = ThriftState.FrameStart;
    this.pos = 0;
    this.messages = 0;
    // Only a failed decoder holds a message: skip the managed store otherwise.
    if (this.error.length != 0) this.error = "";
    this.errorKind = ThriftErrorKind.None;
    this.errorState = ThriftState.FrameStart;
    this.startMessage();
  }

  /** The caller dropped the first `n` (≤ pos) bytes of its buffer: shift every offset. */
  discard(n: i32): void {
    if (n <= 0) return;
    // Never past what was consumed: offsets must stay inside the caller's buffer.
    if (n > this.pos) n = this.pos;
    this.pos -= n;
    if (this.frameEnd >= 0) this.frameEnd -= n;
    this.messageStart -= n;
    if (this.nameOffset >= 0) this.nameOffset -= n;
    if (this.methodOffset >= 0) this.methodOffset -= n;
    if (this.appExceptionMessageOffset >= 0) this.appExceptionMessageOffset -= n;
    this.header.rebase(n);
  }

  /**
   * DecodeMode.MessageBegin, framed or header, in the payload skip: the caller will not hand over
   * the rest of the frame. Takes [pos, len) as consumed and ends the frame at `len`; returns how
   * many stream bytes past `len` the caller drops uncopied before its next decode (0: not skipping).
   */
  skipUnread(): i32 {
    const n = this.frameEnd - this.len;
    if (this.state != ThriftState.SkipFrame || n <= 0) return 0;
    this.frameEnd = this.len;
    this.pos = this.len;
    return n;
  }

  get stateName(): string {
    return thriftStateName(this.state);
  }

  get oneway(): bool {
    return this.messageType == MessageType.Oneway;
  }

  @inline private startMessage(): void {
    this.messageType = MessageType.None;
    this.seqId = 0;
    this.messageStart = this.pos;
    this.frameSize = 0;
    this.frameEnd = -1;
    this.nameOffset = -1;
    this.nameLength = 0;
    this.serviceLength = 0;
    this.methodOffset = -1;
    this.methodLength = 0;
    this.messageBeginReady = false;
    this.replyKind = ReplyKind.None;
    this.replyFieldId = -1;
    this.appExceptionType = -1;
    this.appExceptionMessageOffset = -1;
    this.appExceptionMessageLength = 0;
    this.depth = 0;
    this.firstTopField = true;
    this.boolInHeader = false;
    this.header.reset();
  }

  decode(p: usize, len: i32): DecodeStatus {
    if (this.state == ThriftState.Failed) return DecodeStatus.Error;
    if (this.state == ThriftState.Done) {
      this.state = ThriftState.FrameStart;
      this.startMessage();
    }
    this.p = p;
    this.len = len < 0 ? 0 : len;
    this.setLimit();
    // One frame for the whole walk: every state is inlined here and the four value states share
    // one `value` site, so a payload value costs no call (and no shadow-stack frame).
    while (true) {
      let s: Step = Step.Next;
      // A value to read: its type, the state after it, whether it is a struct field, and the
      // container frame whose count drops when it is read (-1: none).
      let hasValue = false;
      let vt: u32 = 0;
      let ret = ThriftState.FieldEnd;
      let isField = false;
      let counted = -1;
      const st = this.state;
      switch (st) {
        case ThriftState.FrameStart: s = this.frameStart(); break;
        case ThriftState.MessageBegin: s = this.messageBegin(); break;
        case ThriftState.StructBegin: s = this.structBegin(); break;
        case ThriftState.FieldBegin: s = this.fieldBegin(); break;
        case ThriftState.FieldValue: vt = this.fieldType; isField = true; hasValue = true; break;
        case ThriftState.FieldEnd: this.state = ThriftState.FieldBegin; continue;
        case ThriftState.StructEnd: s = this.pop(); break;
        case ThriftState.ListBegin:
        case ThriftState.SetBegin: s = this.listBegin(); break;
        case ThriftState.ListValue:
        case ThriftState.SetValue: {
          const d = this.depth - 1;
          if (unchecked(this.remaining[d]) == 0) {
            s = this.pop();
            break;
          }
          vt = unchecked(this.elemType[d]);
          ret = st;
          counted = d;
          hasValue = true;
          break;
        }
        case ThriftState.MapBegin: s = this.mapBegin(); break;
        case ThriftState.MapKey: {
          const d = this.depth - 1;
          if (unchecked(this.remaining[d]) == 0) {
            s = this.pop();
            break;
          }
          vt = unchecked(this.elemType[d]);
          ret = ThriftState.MapValue;
          hasValue = true;
          break;
        }
        case ThriftState.MapValue: {
          const d = this.depth - 1;
          vt = unchecked(this.valType[d]);
          ret = ThriftState.MapKey;
          counted = d;
          hasValue = true;
          break;
        }
        case ThriftState.ValueBytes: s = this.valueBytes(); break;
        case ThriftState.MessageEnd: s = this.messageEnd(); break;
        case ThriftState.SkipFrame: s = this.skipFrame(); break;
        case ThriftState.FrameEnd: s = this.frameEndState(); break;
        default: s = this.err(Err.DecoderState, <i32>st, 0);
      }
      if (hasValue) {
        s = this.value(vt, ret, isField);
        if (s == Step.Next && counted >= 0) unchecked(this.remaining[counted] = unchecked(this.remaining[counted]) - 1);
      }
      if (s == Step.Next) continue;
      if (s == Step.Need) return DecodeStatus.NeedMoreData;
      if (s == Step.Done) {
        this.messages++;
        this.state = ThriftState.Done;
        return DecodeStatus.Done;
      }
      return DecodeStatus.Error;
    }
  }

  // ---- helpers ----

  /** Reads stop at the frame end when the transport gave one. */
  @inline private setLimit(): void {
    const fe = this.frameEnd;
    this.lim = fe >= 0 && fe < this.len ? fe : this.len;
  }

  /**
   * Fewer than the needed bytes are below the limit: more data, unless the frame's bytes are
   * all there, in which case the message runs past its frame. Not inlined: it ends a decode()
   * call (at most once per read), and its 25 call sites would each carry a copy.
   */
  private short(): Step {
    if (this.frameEnd >= 0 && this.len >= this.frameEnd) {
      return this.err(Err.ExceedsFrame, this.frameSize, 0);
    }
    return Step.Need;
  }

  /**
   * Fails with error `e` about values `a`, `b`. Hot states pass only numbers: building the text
   * here keeps string temporaries (and their shadow-stack slots) out of the per-value code.
   */
  private err(e: Err, a: i32, b: i32): Step {
    writeError(this, e, a, b);
    this.errorState = this.state;
    this.state = ThriftState.Failed;
    return Step.Fail;
  }

  private failAutoTransport(p: usize, o: i32, avail: i32): Step {
    // Envoy auto_transport_impl.cc prints the first 8 bytes; these are the ones seen.
    let seen = "";
    const n = avail < 8 ? avail : 8;
    for (let i = 0; i < n; i++) seen += (i > 0 ? " " : "") + hex(at(p, o + i), 2);
    return this.fail(ThriftErrorKind.Transport, "unknown thrift auto transport frame start " + seen);
  }

  private failHeader(): Step {
    const h = this.header;
    // A transform makes the payload unreadable, not the stream: the frame's end is known.
    return this.fail(h.transforms > 0 ? ThriftErrorKind.UnknownTransform : ThriftErrorKind.Transport, h.error);
  }

  private fail(kind: ThriftErrorKind, msg: string): Step {
    this.error = msg;
    this.errorKind = kind;
    this.errorState = this.state;
    this.state = ThriftState.Failed;
    return Step.Fail;
  }

  @inline private push(ret: ThriftState): bool {
    const d = this.depth;
    if (d >= this.maxDepth) return false;
    unchecked(this.retState[d] = <u8>ret);
    unchecked(this.remaining[d] = 0);
    unchecked(this.lastFieldId[d] = 0);
    this.depth = d + 1;
    return true;
  }

  private tooDeep(): Step {
    return this.err(Err.TooDeep, this.maxDepth, 0);
  }

  @inline private pop(): Step {
    const d = this.depth - 1;
    this.depth = d;
    this.state = <ThriftState>unchecked(this.retState[d]);
    return Step.Next;
  }

  @inline private get compact(): bool {
    return this.protocol == ThriftProtocol.Compact;
  }

  // ---- transport ----

  @inline private frameStart(): Step {
    const p = this.p;
    const o = this.pos;
    const avail = this.len - o;
    this.messageStart = o;
    if (this.transport == ThriftTransport.None) {
      // Auto: decided on the first frame and kept (Envoy auto_transport_impl.cc does the same).
      if (avail < 1) return Step.Need;
      const b0 = at(p, o);
      if (b0 == 0x80 || b0 == COMPACT_PROTOCOL_ID) {
        this.transport = ThriftTransport.Unframed;
      } else {
        if (avail < 6) return Step.Need;
        if (isHeaderMagic(p, o + 4)) this.transport = ThriftTransport.Header;
        else if (at(p, o + 4) == 0x80 || at(p, o + 4) == COMPACT_PROTOCOL_ID) this.transport = ThriftTransport.Framed;
        else {
          return this.failAutoTransport(p, o, avail);
        }
      }
    }
    const t = this.transport;
    if (t == ThriftTransport.Unframed) {
      this.frameEnd = -1;
      this.state = ThriftState.MessageBegin;
      this.setLimit();
      return Step.Next;
    }
    if (t == ThriftTransport.Framed) {
      if (avail < 4) return Step.Need;
      const size = bi32(p, o);
      if (size <= 0 || <u32>size > this.maxFrame) {
        return this.err(Err.FramedSize, size, 0);
      }
      this.frameSize = size;
      this.frameEnd = o + 4 + size;
      this.pos = o + 4;
      this.state = ThriftState.MessageBegin;
      this.setLimit();
      return Step.Next;
    }
    // THeader: wait for the fixed part and the whole header data (Envoy does too).
    if (avail < HEADER_FIXED) return Step.Need;
    const size = bi32(p, o);
    if (size < HEADER_MIN_FRAME || <u32>size > this.maxFrame) {
      return this.err(Err.HeaderFrameSize, size, 0);
    }
    if (!isHeaderMagic(p, o + 4)) {
      return this.err(Err.HeaderMagic, <i32>be16(p, o + 4), 0);
    }
    const raw = bi16(p, o + 12);
    const hs = raw * 4;
    if (hs < 0 || hs > HEADER_MAX_SIZE) {
      return this.err(Err.HeaderSize, hs, raw & 0xffff);
    }
    if (hs == 0) return this.err(Err.NoHeaderData, 0, 0);
    if (hs + 10 > size) {
      return this.err(Err.HeaderSizeExceeds, hs, size);
    }
    if (avail < HEADER_FIXED + hs) return Step.Need;
    const h = this.header;
    h.flags = be16(p, o + 6);
    h.seqId = bi32(p, o + 8);
    h.headerSize = hs;
    this.frameSize = size;
    this.frameEnd = o + 4 + size;
    if (!h.parseData(p, o + HEADER_FIXED, hs)) {
      // A transform makes the payload unreadable, not the stream: the frame's end is known.
      return this.failHeader();
    }
    const proto = h.protocolId == HEADER_PROTOCOL_COMPACT ? ThriftProtocol.Compact : ThriftProtocol.Binary;
    const configured = this.config.protocol;
    if (configured != ThriftProtocol.None && configured != proto) {
      return this.err(Err.ProtocolMismatch, <i32>proto, <i32>configured);
    }
    this.protocol = proto;
    this.pos = o + HEADER_FIXED + hs;
    this.state = ThriftState.MessageBegin;
    this.setLimit();
    return Step.Next;
  }

  @inline private frameEndState(): Step {
    const fe = this.frameEnd;
    if (fe >= 0 && this.pos != fe) {
      return this.err(Err.FrameEndsEarly, fe - this.pos, this.frameSize);
    }
    return Step.Done;
  }

  @inline private skipFrame(): Step {
    if (this.len < this.frameEnd) return Step.Need;
    this.pos = this.frameEnd;
    this.state = ThriftState.FrameEnd;
    return Step.Next;
  }

  // ---- message ----

  @inline private messageBegin(): Step {
    const p = this.p;
    const o = this.pos;
    const lim = this.lim;
    let proto = this.protocol;
    if (proto == ThriftProtocol.None) {
      if (lim - o < 1) return this.short();
      const b0 = at(p, o);
      if (b0 == 0x80) proto = ThriftProtocol.Binary;
      else if (b0 == COMPACT_PROTOCOL_ID) proto = ThriftProtocol.Compact;
      else {
        const w = lim - o >= 2 ? be16(p, o) : b0 << 8;
        return this.err(Err.AutoProtocol, <i32>w, 0);
      }
      this.protocol = proto;
    }
    let type: u32 = 0;
    let nameOff = 0;
    let nameLen = 0;
    let end = 0;
    if (proto == ThriftProtocol.Binary) {
      if (lim - o < 8) {
        // The version word is checked as soon as it is there: garbage fails early.
        if (lim - o >= 2 && be16(p, o) != BINARY_MAGIC) return this.badBinaryVersion(be16(p, o));
        return this.short();
      }
      const v = be16(p, o);
      if (v != BINARY_MAGIC) return this.badBinaryVersion(v);
      type = at(p, o + 3);
      if (type < 1 || type > 4) return this.err(Err.BinaryType, <i32>(<i8>type), 0);
      const n = be32(p, o + 4);
      if (n > this.maxFrame) return this.err(Err.BinaryNameLength, <i32>n, 0);
      nameLen = <i32>n;
      if (lim - o < 12 + nameLen) return this.short();
      nameOff = o + 8;
      this.seqId = bi32(p, nameOff + nameLen);
      end = nameOff + nameLen + 4;
    } else if (proto == ThriftProtocol.LaxBinary) {
      if (lim - o < 4) return this.short();
      const n = be32(p, o);
      if (n > this.maxFrame) return this.err(Err.LaxNameLength, <i32>n, 0);
      nameLen = <i32>n;
      if (lim - o < 9 + nameLen) return this.short();
      nameOff = o + 4;
      type = at(p, nameOff + nameLen);
      if (type < 1 || type > 4) return this.err(Err.LaxType, <i32>(<i8>type), 0);
      this.seqId = bi32(p, nameOff + nameLen + 1);
      end = nameOff + nameLen + 5;
    } else {
      if (lim - o < 2) {
        if (lim - o == 1 && at(p, o) != COMPACT_PROTOCOL_ID) return this.badCompactVersion(at(p, o) << 8);
        return this.short();
      }
      const v = be16(p, o);
      if ((v & 0xff1f) != ((COMPACT_PROTOCOL_ID << 8) | COMPACT_VERSION)) return this.badCompactVersion(v);
      type = (v & 0xe0) >> 5;
      if (type < 1 || type > 4) return this.err(Err.CompactType, <i32>type, 0);
      const r = varint32(p, o + 2, lim);
      if (r < 0) return r == VARINT_NEED_MORE ? this.short() : this.err(Err.VarintSeqId, 0, 0);
      this.seqId = varintValue(r);
      const i = o + 2 + varintSize(r);
      const r2 = varint32(p, i, lim);
      if (r2 < 0) return r2 == VARINT_NEED_MORE ? this.short() : this.err(Err.VarintNameLength, 0, 0);
      const n = varintValue(r2);
      if (n < 0) return this.err(Err.CompactNegativeName, n, 0);
      if (<u32>n > this.maxFrame) return this.err(Err.CompactNameLength, n, 0);
      nameOff = i + varintSize(r2);
      nameLen = n;
      if (lim - nameOff < nameLen) return this.short();
      end = nameOff + nameLen;
    }
    this.messageType = <MessageType>type;
    this.nameOffset = nameOff;
    this.nameLength = nameLen;
    this.splitName(p, nameOff, nameLen);
    this.pos = end;
    this.messageBeginReady = true;
    if (type == MessageType.Exception) this.replyKind = ReplyKind.AppException;
    // The message's struct; its pop returns to MessageEnd.
    this.push(ThriftState.MessageEnd);
    const skip = this.skipPayload && this.frameEnd >= 0;
    this.state = skip && type != MessageType.Reply ? ThriftState.SkipFrame : ThriftState.StructBegin;
    return Step.Next;
  }

  private badBinaryVersion(v: u32): Step {
    return this.err(Err.BinaryVersion, <i32>v, 0);
  }

  private badCompactVersion(v: u32): Step {
    return this.err(Err.CompactVersion, <i32>(v & 0xff1f), 0);
  }

  /** "Service:method" (TMultiplexedProtocol's separator, first occurrence) → service, method. */
  @inline private splitName(p: usize, o: i32, n: i32): void {
    for (let i = 0; i < n; i++) {
      if (at(p, o + i) == 0x3a) {
        this.serviceLength = i;
        this.methodOffset = o + i + 1;
        this.methodLength = n - i - 1;
        return;
      }
    }
    this.serviceLength = 0;
    this.methodOffset = o;
    this.methodLength = n;
  }

  @inline private messageEnd(): Step {
    this.state = ThriftState.FrameEnd;
    return Step.Next;
  }

  // ---- structs and fields ----

  @inline private structBegin(): Step {
    unchecked(this.lastFieldId[this.depth - 1] = 0);
    this.state = ThriftState.FieldBegin;
    return Step.Next;
  }

  @inline private fieldBegin(): Step {
    const p = this.p;
    const o = this.pos;
    const lim = this.lim;
    if (lim - o < 1) return this.short();
    const b = at(p, o);
    let type: u32;
    let id: i32;
    let used: i32;
    this.boolInHeader = false;
    if (!this.compact) {
      if (b == FieldType.Stop) {
        this.pos = o + 1;
        if (this.depth == 1 && this.firstTopField) this.topField(-1, true);
        this.state = ThriftState.StructEnd;
        return Step.Next;
      }
      if (lim - o < 3) return this.short();
      type = b;
      id = bi16(p, o + 1);
      used = 3;
    } else {
      const ct = b & 0x0f;
      if (ct == 0) {
        this.pos = o + 1;
        if (this.depth == 1 && this.firstTopField) this.topField(-1, true);
        this.state = ThriftState.StructEnd;
        return Step.Next;
      }
      const delta = b >> 4;
      const d = this.depth - 1;
      if (delta == 0) {
        const r = varint32(p, o + 1, lim);
        if (r < 0) return r == VARINT_NEED_MORE ? this.short() : this.err(Err.VarintFieldId, 0, 0);
        id = zigzag32(<u32>varintValue(r));
        if (id < -32768 || id > 32767) return this.err(Err.CompactFieldId, id, 0);
        used = 1 + varintSize(r);
      } else {
        id = unchecked(this.lastFieldId[d]) + <i32>delta;
        used = 1;
      }
      type = compactToFieldType(ct);
      if (type == FieldType.Invalid) return this.err(Err.CompactFieldType, <i32>ct, 0);
      if (type == FieldType.Bool) this.boolInHeader = true;
      unchecked(this.lastFieldId[d] = <i32>(<i16>id));
    }
    if (!isValueType(type)) return this.err(Err.FieldType, <i32>(<i8>type), 0);
    this.pos = o + used;
    this.fieldType = type;
    this.fieldId = id;
    if (this.depth == 1 && this.firstTopField) {
      this.topField(id, false);
      if (this.skipPayload && this.frameEnd >= 0) {
        this.state = ThriftState.SkipFrame;
        return Step.Next;
      }
    }
    this.state = ThriftState.FieldValue;
    return Step.Next;
  }

  /** The first field header of the message's struct (or its stop): a reply's kind. */
  @inline private topField(id: i32, stop: bool): void {
    this.firstTopField = false;
    if (this.messageType != MessageType.Reply) return;
    this.replyFieldId = stop ? -1 : id;
    this.replyKind = stop || id == 0 ? ReplyKind.Success : ReplyKind.DeclaredException;
  }

  // ---- values ----

  /**
   * One value of type `t`; `ret` is the state after it. Answers Need without side effects when
   * the value's fixed part is not all there, so the caller may count the element only on Next.
   */
  @inline private value(t: u32, ret: ThriftState, isField: bool): Step {
    const p = this.p;
    const o = this.pos;
    const lim = this.lim;
    const compact = this.compact;
    let n: i32 = 0;
    switch (t) {
      case FieldType.Bool:
        n = compact && isField && this.boolInHeader ? 0 : 1;
        break;
      case FieldType.Byte:
        n = 1;
        break;
      case FieldType.Double:
        n = 8;
        break;
      case FieldType.I16:
      case FieldType.I32: {
        if (!compact) {
          n = t == FieldType.I16 ? 2 : 4;
          if (lim - o < n) return this.short();
          if (isField && t == FieldType.I32) this.noteI32(bi32(p, o));
          break;
        }
        const r = varint32(p, o, lim);
        if (r < 0) return r == VARINT_NEED_MORE ? this.short() : this.err(Err.VarintI32, 0, 0);
        n = varintSize(r);
        if (t == FieldType.I16) {
          const v = zigzag32(<u32>varintValue(r));
          if (v < -32768 || v > 32767) return this.err(Err.CompactI16Range, v, 0);
        } else if (isField) {
          this.noteI32(zigzag32(<u32>varintValue(r)));
        }
        break;
      }
      case FieldType.I64: {
        if (!compact) {
          n = 8;
          break;
        }
        n = varint64Size(p, o, lim);
        if (n < 0) return n == <i32>VARINT_NEED_MORE ? this.short() : this.err(Err.VarintI64, 0, 0);
        break;
      }
      case FieldType.String: {
        let size: i32;
        let hdr: i32;
        if (!compact) {
          if (lim - o < 4) return this.short();
          size = bi32(p, o);
          hdr = 4;
          if (size < 0) return this.err(Err.BinaryNegativeString, size, 0);
        } else {
          const r = varint32(p, o, lim);
          if (r < 0) return r == VARINT_NEED_MORE ? this.short() : this.err(Err.VarintStringLength, 0, 0);
          size = varintValue(r);
          hdr = varintSize(r);
          if (size < 0) return this.err(Err.CompactNegativeString, size, 0);
        }
        if (<u32>size > this.maxFrame) {
          return this.err(Err.StringTooLong, size, <i32>this.maxFrame);
        }
        if (isField && this.depth == 1 && this.messageType == MessageType.Exception && this.fieldId == 1) {
          this.appExceptionMessageOffset = o + hdr;
          this.appExceptionMessageLength = size;
        }
        this.pos = o + hdr;
        this.bytesLeft = size;
        this.bytesReturn = ret;
        this.state = ThriftState.ValueBytes;
        return Step.Next;
      }
      case FieldType.Struct:
        if (!this.push(ret)) return this.tooDeep();
        this.state = ThriftState.StructBegin;
        return Step.Next;
      case FieldType.List:
        if (!this.push(ret)) return this.tooDeep();
        this.state = ThriftState.ListBegin;
        return Step.Next;
      case FieldType.Set:
        if (!this.push(ret)) return this.tooDeep();
        this.state = ThriftState.SetBegin;
        return Step.Next;
      case FieldType.Map:
        if (!this.push(ret)) return this.tooDeep();
        this.state = ThriftState.MapBegin;
        return Step.Next;
      default:
        return this.err(compact ? Err.CompactFieldType : Err.FieldType, <i32>(<i8>t), 0);
    }
    if (lim - o < n) return this.short();
    this.pos = o + n;
    this.state = ret;
    return Step.Next;
  }

  /** TApplicationException field 2 (type), top level of an EXCEPTION message. */
  @inline private noteI32(v: i32): void {
    if (this.depth == 1 && this.messageType == MessageType.Exception && this.fieldId == 2) this.appExceptionType = v;
  }

  @inline private valueBytes(): Step {
    const avail = this.lim - this.pos;
    const left = this.bytesLeft;
    if (avail < left) {
      if (avail > 0) {
        this.pos += avail;
        this.bytesLeft = left - avail;
      }
      return this.short();
    }
    this.pos += left;
    this.bytesLeft = 0;
    this.state = this.bytesReturn;
    return Step.Next;
  }

  // ---- containers ----

  @inline private listBegin(): Step {
    const p = this.p;
    const o = this.pos;
    const lim = this.lim;
    const d = this.depth - 1;
    const isSet = this.state == ThriftState.SetBegin;
    let elem: u32;
    let size: i32;
    let used: i32;
    if (!this.compact) {
      if (lim - o < 5) return this.short();
      elem = at(p, o);
      size = bi32(p, o + 1);
      if (size < 0) return this.err(Err.BinaryNegativeList, size, 0);
      used = 5;
    } else {
      if (lim - o < 1) return this.short();
      const b = at(p, o);
      const ct = b & 0x0f;
      if ((b & 0xf0) != 0xf0) {
        size = <i32>(b >> 4);
        used = 1;
      } else {
        const r = varint32(p, o + 1, lim);
        if (r < 0) return r == VARINT_NEED_MORE ? this.short() : this.err(Err.VarintListSize, 0, 0);
        size = varintValue(r);
        if (size < 0) return this.err(Err.CompactNegativeList, size, 0);
        used = 1 + varintSize(r);
      }
      elem = compactToFieldType(ct);
      if (elem == FieldType.Invalid && size > 0) return this.err(Err.CompactFieldType, <i32>ct, 0);
    }
    unchecked(this.elemType[d] = <u8>elem);
    unchecked(this.remaining[d] = <u32>size);
    this.pos = o + used;
    this.state = isSet ? ThriftState.SetValue : ThriftState.ListValue;
    return Step.Next;
  }



  @inline private mapBegin(): Step {
    const p = this.p;
    const o = this.pos;
    const lim = this.lim;
    const d = this.depth - 1;
    let k: u32 = 0;
    let v: u32 = 0;
    let size: i32;
    let used: i32;
    if (!this.compact) {
      if (lim - o < 6) return this.short();
      k = at(p, o);
      v = at(p, o + 1);
      size = bi32(p, o + 2);
      if (size < 0) return this.err(Err.BinaryNegativeMap, size, 0);
      used = 6;
    } else {
      const r = varint32(p, o, lim);
      if (r < 0) return r == VARINT_NEED_MORE ? this.short() : this.err(Err.VarintMapSize, 0, 0);
      size = varintValue(r);
      if (size < 0) return this.err(Err.CompactNegativeMap, size, 0);
      used = varintSize(r);
      if (size > 0) {
        // An empty map carries no types byte.
        if (lim - o < used + 1) return this.short();
        const kv = at(p, o + used);
        k = compactToFieldType(kv >> 4);
        v = compactToFieldType(kv & 0x0f);
        if (k == FieldType.Invalid) return this.err(Err.CompactFieldType, <i32>(kv >> 4), 0);
        if (v == FieldType.Invalid) return this.err(Err.CompactFieldType, <i32>(kv & 0x0f), 0);
        used++;
      }
    }
    unchecked(this.elemType[d] = <u8>k);
    unchecked(this.valType[d] = <u8>v);
    unchecked(this.remaining[d] = <u32>size);
    this.pos = o + used;
    this.state = ThriftState.MapKey;
    return Step.Next;
  }




}

/** Errors found by the hot states, as numbers; errorText gives Envoy's words. */
const enum Err {
  DecoderState, ExceedsFrame, TooDeep, FramedSize, HeaderFrameSize, HeaderMagic, HeaderSize, NoHeaderData,
  HeaderSizeExceeds, ProtocolMismatch, FrameEndsEarly, AutoProtocol, BinaryVersion, BinaryType, BinaryNameLength,
  LaxNameLength, LaxType, CompactVersion, CompactType, CompactNegativeName, CompactNameLength, VarintSeqId,
  VarintNameLength, VarintFieldId, VarintI32, VarintI64, VarintStringLength, VarintListSize, VarintMapSize,
  CompactFieldId, CompactFieldType, FieldType, CompactI16Range, BinaryNegativeString, CompactNegativeString,
  StringTooLong, BinaryNegativeList, CompactNegativeList, BinaryNegativeMap, CompactNegativeMap,
}

function errorKind(e: Err): ThriftErrorKind {
  switch (e) {
    case Err.TooDeep: return ThriftErrorKind.TooDeep;
    case Err.FramedSize: case Err.HeaderFrameSize: case Err.BinaryNameLength: case Err.LaxNameLength:
    case Err.CompactNameLength: case Err.StringTooLong: return ThriftErrorKind.TooLarge;
    case Err.HeaderMagic: case Err.HeaderSize: case Err.NoHeaderData: case Err.HeaderSizeExceeds:
    case Err.ProtocolMismatch: return ThriftErrorKind.Transport;
    default: return ThriftErrorKind.Protocol;
  }
}

function writeError(d: ThriftDecoder, e: Err, a: i32, b: i32): void {
  d.error = errorText(e, a, b);
  d.errorKind = errorKind(e);
}

function errorText(e: Err, a: i32, b: i32): string {
  const x = a.toString();
  switch (e) {
    case Err.DecoderState: return "invalid thrift decoder state " + x;
    case Err.ExceedsFrame: return "thrift message exceeds its transport frame size " + x;
    case Err.TooDeep: return "thrift nesting depth exceeds " + x;
    case Err.FramedSize: return "invalid thrift framed transport frame size " + x;
    case Err.HeaderFrameSize: return "invalid thrift header transport frame size " + x;
    case Err.HeaderMagic: return "invalid thrift header transport magic " + hex(<u32>a, 4);
    case Err.HeaderSize: return "invalid thrift header transport header size " + x + " (" + hex(<u32>b, 4) + ")";
    case Err.NoHeaderData: return "no header data";
    case Err.HeaderSizeExceeds: return "invalid thrift header transport header size " + x + " exceeds frame size " + b.toString();
    case Err.ProtocolMismatch: return "transport reports protocol " + protocolName(<ThriftProtocol>a) + ", but configured for " + protocolName(<ThriftProtocol>b);
    case Err.FrameEndsEarly: return "thrift message ends " + x + " bytes before its transport frame (size " + b.toString() + ")";
    case Err.AutoProtocol: return "unknown thrift auto protocol message start " + hex(<u32>a, 4);
    case Err.BinaryVersion: return "invalid binary protocol version 0x" + hex(<u32>a, 4) + " != 0x" + hex(BINARY_MAGIC, 4);
    case Err.BinaryType: return "invalid binary protocol message type " + x;
    case Err.BinaryNameLength: return "invalid binary protocol message name length " + x;
    case Err.LaxNameLength: return "invalid (lax) binary protocol message name length " + x;
    case Err.LaxType: return "invalid (lax) binary protocol message type " + x;
    case Err.CompactVersion: return "invalid compact protocol version 0x" + hex(<u32>a, 4) + " != 0x8201";
    case Err.CompactType: return "invalid compact protocol message type " + x;
    case Err.CompactNegativeName: return NEGATIVE_COMPACT + "message name length " + x;
    case Err.CompactNameLength: return "invalid compact protocol message name length " + x;
    case Err.VarintSeqId: return VARINT_I32 + " (seq id)";
    case Err.VarintNameLength: return VARINT_I32 + " (name length)";
    case Err.VarintFieldId: return VARINT_I32 + " (field id)";
    case Err.VarintI32: return VARINT_I32;
    case Err.VarintI64: return "invalid compact protocol varint i64";
    case Err.VarintStringLength: return VARINT_I32 + " (string length)";
    case Err.VarintListSize: return VARINT_I32 + " (list/set size)";
    case Err.VarintMapSize: return VARINT_I32 + " (map size)";
    case Err.CompactFieldId: return "invalid compact protocol field id " + x;
    case Err.CompactFieldType: return "unknown compact protocol field type " + x;
    case Err.FieldType: return "unknown field type " + x;
    case Err.CompactI16Range: return "compact protocol i16 exceeds allowable range " + x;
    case Err.BinaryNegativeString: return NEGATIVE_BINARY + "string/binary length " + x;
    case Err.CompactNegativeString: return NEGATIVE_COMPACT + "string/binary length " + x;
    case Err.StringTooLong: return "thrift string/binary length " + x + " exceeds max frame size " + (<u32>b).toString();
    case Err.BinaryNegativeList: return NEGATIVE_BINARY + "list/set size " + x;
    case Err.CompactNegativeList: return NEGATIVE_COMPACT + "list/set size " + x;
    case Err.BinaryNegativeMap: return NEGATIVE_BINARY + "map size " + x;
    case Err.CompactNegativeMap: return NEGATIVE_COMPACT + "map size " + x;
    default: return "thrift decoder error " + (<i32>e).toString();
  }
}

export function protocolName(p: ThriftProtocol): string {
  switch (p) {
    case ThriftProtocol.Binary: return "binary";
    case ThriftProtocol.LaxBinary: return "binary/non-strict";
    case ThriftProtocol.Compact: return "compact";
    default: return "auto";
  }
}

export function transportName(t: ThriftTransport): string {
  switch (t) {
    case ThriftTransport.Framed: return "framed";
    case ThriftTransport.Unframed: return "unframed";
    case ThriftTransport.Header: return "header";
    default: return "auto";
  }
}
