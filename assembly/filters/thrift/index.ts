// thrift: a network filter in front of tcp_proxy (per connection) or thrift_proxy (per request)
// that routes, refuses and measures Thrift calls (README.md). Host glue only; configuration,
// matching and the exception encoding are pure code in config.ts, match.ts and exception.ts.
//
// Per connection the first call decides: the filter holds the connection (StopIteration from
// on_new_connection and on_downstream_data, as the sniffer does) until that call's message begin
// is decoded, then writes `envoy.tcp_proxy.cluster` and lets tcp_proxy connect. Every call is
// decoded (DecodeMode.MessageBegin: framed payloads are skipped by length) for policy and
// telemetry; later calls whose rule names another destination are counted as route_mismatch.
//
// Refusing a call (deny, rate limit, abort): proxy-wasm gives a network filter no way to write to
// the downstream, so the call's method name is overwritten in place with '$' (same length, so the
// frame stays valid; '$' is in no Thrift identifier, so no server has such a method) and the
// server's answer to that seq id (the TApplicationException UNKNOWN_METHOD every Apache processor
// sends) is replaced on the way back by our TApplicationException. A refused oneway call's
// answer, if any, is dropped. Buffers are rewritten whole (start 0, length = size): Envoy's
// Buffer::copyFrom (source/extensions/common/wasm/context.cc) accepts a prefix replacement only in
// that form in every version.
//
// Never throws or aborts; a failed host call is logged at warn and the data passes untouched.
import {
  Action, BufferType, Context, LifeSpan, LogLevel, MetricType, RootContext, StreamType, WasmResult,
  continueStream, defineMetric, getBufferBytes, getBufferBytesInto, getCurrentTimeNanoseconds, getPluginConfiguration,
  getSharedData, incrementMetric, log, recordMetric, registerRootContext, setBufferBytes, setEffectiveContext,
  setEnvoyFilterState, setSharedData, setTickPeriodMilliseconds,
} from "../../runtime";
import { DecodeStatus } from "../../codecs/decoder";
import { DecodeMode, MessageType, ThriftDecoder, ThriftDecoderConfig } from "../../codecs/thrift/decoder";
import { ThriftTransport } from "../../codecs/thrift/index";
import { DENY_EXCEPTION_TYPE, Rule, ThriftFilterConfig, denyMessage, parseThriftConfigBytes } from "./config";
import { Call, Rng, firstMatch, pickCluster } from "./match";
import { encodeAppException } from "./exception";
export * from "../../runtime/exports";

const TCP_PROXY_CLUSTER = "envoy.tcp_proxy.cluster";
const NO_METRIC: i64 = -1;
const TICK_MS: u32 = 100;
const MAX_PENDING_CALLS: i32 = 1024;
const DOLLAR: u8 = 36;

/** Outcome labels of istio_requests_total: response_code / response_flags. */
const enum Outcome {
  Reply = 0,
  Exception = 1,
  Oneway = 2,
  Denied = 3,
  RateLimited = 4,
  Aborted = 5,
}
const OUTCOMES: i32 = 6;
const OUTCOME_CODE: StaticArray<string> = ["reply", "exception", "oneway", "exception", "exception", "exception"];
const OUTCOME_FLAGS: StaticArray<string> = ["-", "-", "-", "UAEX", "RL", "FI"];

/** What the filter does with the answer to a call. */
const enum Answer {
  Pass = 0,
  Replace = 1,
  Drop = 2,
}

function tagged(keys: string[], values: string[], name: string): string {
  let s = "";
  for (let i = 0; i < keys.length; i++) s += keys[i] + "=.=" + values[i] + ";.;";
  return s + name;
}

class ThriftMetrics {
  /** Per destination label (the configured clusters, then "unknown"). */
  requests: i64[] = [];
  duration: i64[] = [];
  requestBytes: i64[] = [];
  responseBytes: i64[] = [];
  routeMismatch: i64 = NO_METRIC;
  decodeErrors: i64 = NO_METRIC;
  timeouts: i64 = NO_METRIC;

  defineAll(prefix: string, clusters: string[]): void {
    const keys = ["request_protocol", "destination_cluster", "response_code", "response_flags"];
    const two = ["request_protocol", "destination_cluster"];
    for (let c = 0; c < clusters.length; c++) {
      for (let o = 0; o < OUTCOMES; o++) {
        this.requests.push(define(MetricType.Counter, tagged(keys, ["thrift", clusters[c], OUTCOME_CODE[o], OUTCOME_FLAGS[o]], "istio_requests_total")));
      }
      const v = ["thrift", clusters[c]];
      this.duration.push(define(MetricType.Histogram, tagged(two, v, "istio_request_duration_milliseconds")));
      this.requestBytes.push(define(MetricType.Histogram, tagged(two, v, "istio_request_bytes")));
      this.responseBytes.push(define(MetricType.Histogram, tagged(two, v, "istio_response_bytes")));
    }
    const p = "protomesh_" + underscored(prefix) + "_";
    this.routeMismatch = define(MetricType.Counter, p + "route_mismatch_total");
    this.decodeErrors = define(MetricType.Counter, p + "decode_errors_total");
    this.timeouts = define(MetricType.Counter, p + "decode_timeouts_total");
  }
}

/** A stat prefix ('.' between segments) as one Prometheus-safe word. */
function underscored(s: string): string {
  const out = new Uint16Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = <u16>(c == 46 ? 95 : c);
  }
  return String.UTF16.decode(out.buffer);
}

function define(t: MetricType, name: string): i64 {
  const r = defineMetric(t, name);
  if (r.status != WasmResult.Ok) {
    log(LogLevel.Warn, "thrift: define_metric " + name + " failed status=" + (<i32>r.status).toString());
    return NO_METRIC;
  }
  return <i64>r.value;
}

function count(id: i64, n: i64 = 1): void {
  if (id >= 0 && n != 0) incrementMetric(<u32>id, n);
}

function record(id: i64, v: u64): void {
  if (id >= 0) recordMetric(<u32>id, v);
}

class ThriftRoot extends RootContext {
  cfg: ThriftFilterConfig | null = null;
  metrics: ThriftMetrics = new ThriftMetrics();
  rng: Rng = new Rng(1);
  /** Distinct clusters of the rules, then "unknown" (tcp_proxy's own cluster). */
  clusters: string[] = [];
  /** Per rule, per route cluster: index into `clusters`. */
  ruleClusters: i32[][] = [];
  pending: ThriftStream[] = [];
  tickCount: u32 = 0;
  expireTicks: u32 = 0;

  onConfigure(configuration_size: u32): bool {
    const parsed = parseThriftConfigBytes(getPluginConfiguration().value);
    if (parsed.error.length > 0) {
      log(LogLevel.Error, parsed.error);
      return false;
    }
    const cfg = parsed.config;
    const clusters: string[] = [];
    const ruleClusters: i32[][] = [];
    for (let i = 0; i < cfg.rules.length; i++) {
      const idx: i32[] = [];
      const r = cfg.rules[i];
      for (let k = 0; k < r.clusters.length; k++) {
        let at = clusters.indexOf(r.clusters[k]);
        if (at < 0) {
          at = clusters.length;
          clusters.push(r.clusters[k]);
        }
        idx.push(at);
      }
      ruleClusters.push(idx);
    }
    clusters.push("unknown");
    this.metrics = new ThriftMetrics();
    this.metrics.defineAll(cfg.statPrefix, clusters);
    this.clusters = clusters;
    this.ruleClusters = ruleClusters;
    this.rng = new Rng(cfg.seed != 0 ? cfg.seed : <u32>getCurrentTimeNanoseconds() | 1);
    this.expireTicks = (<u32>cfg.decodeTimeoutMs + TICK_MS - 1) / TICK_MS;
    const s = setTickPeriodMilliseconds(TICK_MS);
    if (s != WasmResult.Ok) {
      log(LogLevel.Warn, "thrift: set_tick_period_milliseconds failed status=" + (<i32>s).toString() + "; decode_timeout_ms will not fire");
      this.expireTicks = 0;
    }
    this.cfg = cfg;
    return true;
  }

  onTick(): void {
    this.tickCount++;
    if (this.pending.length == 0) return;
    const keep: ThriftStream[] = [];
    const due: ThriftStream[] = [];
    for (let i = 0; i < this.pending.length; i++) {
      const s = this.pending[i];
      if (!s.waiting) continue;
      if (this.expireTicks != 0 && this.tickCount >= s.deadline) due.push(s);
      else keep.push(s);
    }
    this.pending = keep;
    for (let i = 0; i < due.length; i++) due[i].expire();
  }

  /** Token bucket per rule, shared by every worker VM through shared data and CAS. */
  takeToken(ruleIndex: i32, r: Rule): bool {
    const key = "protomesh.thrift.rl." + r.name;
    const now = getCurrentTimeNanoseconds() / 1000000;
    for (let attempt = 0; attempt < 8; attempt++) {
      const cur = getSharedData(key);
      let tokens: i64 = r.rateTokens;
      let last: u64 = now;
      if (cur.ok && cur.value.byteLength == 16) {
        tokens = load<i64>(changetype<usize>(cur.value));
        last = load<u64>(changetype<usize>(cur.value) + 8);
        if (now > last) {
          const refill = <i64>((now - last) * <u64>r.rateTokens / <u64>r.rateIntervalMs);
          if (refill > 0) {
            tokens += refill;
            if (tokens > <i64>r.rateTokens) tokens = r.rateTokens;
            // Keep the remainder of a partial refill by advancing time only by what was paid.
            last += <u64>refill * <u64>r.rateIntervalMs / <u64>r.rateTokens;
            if (tokens == <i64>r.rateTokens) last = now;
          }
        }
      }
      const ok = tokens > 0;
      if (ok) tokens--;
      const next = new ArrayBuffer(16);
      store<i64>(changetype<usize>(next), tokens);
      store<u64>(changetype<usize>(next) + 8, last);
      const s = setSharedData(key, next, cur.ok ? cur.cas : 0);
      if (s == WasmResult.Ok) return ok;
      if (s != WasmResult.CasMismatch) {
        log(LogLevel.Warn, "thrift: set_shared_data " + key + " failed status=" + (<i32>s).toString() + "; allowing");
        return true;
      }
    }
    // Contention beyond 8 rounds: let the call through rather than refuse it on our own failure.
    return true;
  }

  createContext(context_id: u32): Context {
    return new ThriftStream(context_id, this);
  }
}

/** One direction's decoding: the decoder and the bytes it has not consumed yet. */
class Side {
  dec: ThriftDecoder;
  buf: ArrayBuffer = new ArrayBuffer(256);
  len: i32 = 0;
  /** Stream offset of buf[0]. */
  base: i64 = 0;
  /** Stream offset of the host buffer's first byte (advances when the data passes). */
  hostBase: i64 = 0;
  /** Stream bytes copied into buf so far. */
  seen: i64 = 0;
  /** The current message's begin was handled. */
  begun: bool = false;
  failed: bool = false;

  constructor(cfg: ThriftFilterConfig) {
    const c = new ThriftDecoderConfig();
    c.transport = cfg.transport;
    c.protocol = cfg.protocol;
    c.mode = DecodeMode.MessageBegin;
    this.dec = new ThriftDecoder(c);
  }

  /** Copies the host buffer's new bytes; false when the host call failed. */
  copyIn(type: BufferType, size: u32): bool {
    const fresh = this.hostBase + <i64>size - this.seen;
    if (fresh <= 0) return true;
    const start = <i32>(this.seen - this.hostBase);
    const need = this.len + <i32>fresh;
    if (need > this.buf.byteLength) {
      let cap = this.buf.byteLength;
      while (cap < need) cap <<= 1;
      const next = new ArrayBuffer(cap);
      memory.copy(changetype<usize>(next), changetype<usize>(this.buf), <usize>this.len);
      this.buf = next;
    }
    const n = getBufferBytesInto(type, <u32>start, <u32>fresh, this.buf, this.len);
    if (n < 0) return false;
    this.len += n;
    this.seen += n;
    return true;
  }

  /** Drops consumed bytes (keeping an unfinished message begin). */
  compact(): void {
    const d = this.dec;
    let keep = this.begun ? d.pos : d.messageStart;
    if (keep > d.pos) keep = d.pos;
    if (keep <= 0) return;
    memory.copy(changetype<usize>(this.buf), changetype<usize>(this.buf) + <usize>keep, <usize>(this.len - keep));
    this.len -= keep;
    this.base += keep;
    d.discard(keep);
  }

  /** The host must keep its bytes: an unfinished message whose begin is not decoded yet. */
  get partial(): bool {
    return !this.begun && this.len > 0 && !this.failed;
  }

  /** Host offset of a buffer offset. */
  host(o: i32): i32 {
    return <i32>(this.base + <i64>o - this.hostBase);
  }

  name(): string {
    const d = this.dec;
    return String.UTF8.decodeUnsafe(changetype<usize>(this.buf) + <usize>d.nameOffset, <usize>d.nameLength);
  }
}

/** A pending call: answered by seq id. */
class PendingCall {
  seq: i32 = 0;
  startNs: u64 = 0;
  dest: i32 = 0;
  answer: Answer = Answer.Pass;
  outcome: Outcome = Outcome.Reply;
  message: string = "";
  name: ArrayBuffer = new ArrayBuffer(0);
}

/** A replacement of host bytes [start, end) decided while decoding one callback's data. */
class Edit {
  constructor(public start: i32, public end: i32, public bytes: ArrayBuffer) {}
}

const enum Phase {
  Idle = 0,
  Pending = 1,
  Decided = 2,
}

class ThriftStream extends Context {
  root_: ThriftRoot;
  phase: Phase = Phase.Idle;
  waiting: bool = false;
  deadline: u32 = 0;
  down: Side | null = null;
  up: Side | null = null;
  /** Destination label index of the connection (root.clusters), "unknown" until routed. */
  dest: i32 = 0;
  /** Rule whose route decided the connection, -1 for none. */
  routeRule: i32 = -1;
  mismatchLogged: bool = false;
  calls: PendingCall[] = [];
  /** The reply being held for a rewrite. */
  holding: PendingCall | null = null;
  edits: Edit[] = [];

  constructor(context_id: u32, root: ThriftRoot) {
    super(context_id, root);
    this.root_ = root;
  }

  onNewConnection(): Action {
    const r = this.root_;
    const cfg = r.cfg;
    if (cfg === null) return Action.Continue;
    this.down = new Side(cfg);
    this.up = new Side(cfg);
    this.dest = r.clusters.length - 1;
    // Per request thrift_proxy routes every call: nothing to hold, nothing to decide.
    if (cfg.perRequest) {
      this.phase = Phase.Decided;
      return Action.Continue;
    }
    this.phase = Phase.Pending;
    this.waiting = true;
    this.deadline = r.tickCount + r.expireTicks;
    r.pending.push(this);
    // Hold tcp_proxy's onNewConnection (it picks the cluster there) until the first call decides.
    return Action.Pause;
  }

  /** decode_timeout_ms passed without a message begin: tcp_proxy's own cluster. */
  expire(): void {
    if (!this.waiting) return;
    this.waiting = false;
    if (setEffectiveContext(this.context_id) != WasmResult.Ok) return;
    count(this.root_.metrics.timeouts);
    this.giveUp("no thrift message begin within decode_timeout_ms");
    const c = continueStream(StreamType.Downstream);
    if (c != WasmResult.Ok) log(LogLevel.Warn, "thrift: continue_stream(downstream) failed status=" + (<i32>c).toString());
  }

  /** Stops decoding this connection; the bytes pass untouched from now on. */
  giveUp(why: string): void {
    this.phase = Phase.Decided;
    this.waiting = false;
    if (this.down !== null) this.down!.failed = true;
    if (this.up !== null) this.up!.failed = true;
    log(LogLevel.Debug, "thrift: context " + this.context_id.toString() + " " + why + "; passing bytes through");
  }

  onDownstreamData(data_size: u32, end_of_stream: bool): Action {
    const s = this.down;
    if (s === null || s.failed) return Action.Continue;
    if (!s.copyIn(BufferType.NetworkDownstreamData, data_size)) {
      this.giveUp("get_buffer_bytes(downstream) failed");
      return Action.Continue;
    }
    const d = s.dec;
    while (true) {
      const st = d.decode(changetype<usize>(s.buf), s.len);
      if (st == DecodeStatus.Error) {
        count(this.root_.metrics.decodeErrors);
        this.giveUp("downstream: " + d.error);
        break;
      }
      if (d.messageBeginReady && !s.begun) {
        s.begun = true;
        this.callBegin(s);
      }
      if (st != DecodeStatus.Done) break;
      this.callDone(s);
      s.begun = false;
    }
    if (!s.failed) s.compact();
    s.hostBase -= this.applyEdits(BufferType.NetworkDownstreamData, data_size);
    if (this.phase == Phase.Pending && !s.failed) {
      if (end_of_stream) {
        this.giveUp("downstream closed before a message begin");
        return Action.Continue;
      }
      return Action.Pause;
    }
    if (s.partial && !end_of_stream) return Action.Pause;
    s.hostBase = s.seen;
    return Action.Continue;
  }

  callBegin(s: Side): void {
    const d = s.dec;
    const r = this.root_;
    const cfg = r.cfg!;
    const t = d.messageType;
    if (t != MessageType.Call && t != MessageType.Oneway) return;
    const h = d.header;
    const keys: string[] = [];
    const values: string[] = [];
    const p = changetype<usize>(s.buf);
    for (let i = 0; i < h.count; i++) {
      keys.push(String.UTF8.decodeUnsafe(p + <usize>h.keyOffset[i], <usize>h.keyLength[i]));
      values.push(String.UTF8.decodeUnsafe(p + <usize>h.valueOffset[i], <usize>h.valueLength[i]));
    }
    const name = s.name();
    const call = Call.of(name, keys, values);
    const ri = firstMatch(cfg.rules, call);
    const rule = ri >= 0 ? cfg.rules[ri] : null;
    if (cfg.perRequest) {
      // thrift_proxy routes this call by the same rules: one cluster is known, a weighted pick is not.
      this.dest = rule !== null && rule.clusters.length == 1 ? r.ruleClusters[ri][0] : r.clusters.length - 1;
    } else if (this.phase == Phase.Pending) {
      this.decide(ri, rule);
    } else if (rule !== null && rule.clusters.length > 0 && ri != this.routeRule && !this.sameDestination(ri)) {
      this.mismatch(name, rule);
    }
    let outcome = Outcome.Reply;
    let message = "";
    if (rule !== null) {
      if (rule.deny) {
        outcome = Outcome.Denied;
        message = denyMessage(rule);
      } else if (rule.rateTokens > 0 && !r.takeToken(ri, rule)) {
        outcome = Outcome.RateLimited;
        message = "rate limited by protomesh rule " + rule.name;
      } else if (rule.abortMilliPercent > 0 && <i32>r.rng.below(100000) < rule.abortMilliPercent) {
        outcome = Outcome.Aborted;
        message = rule.abortMessage;
      }
    }
    const oneway = t == MessageType.Oneway;
    if (outcome != Outcome.Reply) this.refuse(s, outcome, message, oneway);
    else if (oneway) count(r.metrics.requests[this.dest * OUTCOMES + Outcome.Oneway]);
    else this.track(d.seqId, Answer.Pass, Outcome.Reply, "", s);
  }

  /** True when rule `ri` routes to the cluster the connection already uses. */
  sameDestination(ri: i32): bool {
    const idx = this.root_.ruleClusters[ri];
    for (let i = 0; i < idx.length; i++) if (idx[i] == this.dest) return true;
    return false;
  }

  mismatch(name: string, rule: Rule): void {
    count(this.root_.metrics.routeMismatch);
    if (this.mismatchLogged) return;
    this.mismatchLogged = true;
    log(LogLevel.Info, "thrift: context " + this.context_id.toString() + " call " + name + " matches rule " + rule.name +
      " for another destination than the connection's " + this.root_.clusters[this.dest] +
      "; per-connection routing keeps the first call's (route_mismatch, logged once per connection)");
  }

  decide(ri: i32, rule: Rule | null): void {
    const r = this.root_;
    this.phase = Phase.Decided;
    this.waiting = false;
    if (rule === null || rule.clusters.length == 0) return;
    const k = pickCluster(rule, r.rng);
    this.routeRule = ri;
    this.dest = r.ruleClusters[ri][k];
    const f = setEnvoyFilterState(TCP_PROXY_CLUSTER, rule.clusters[k], LifeSpan.DownstreamConnection);
    if (f != WasmResult.Ok) {
      log(LogLevel.Warn, "thrift: set_envoy_filter_state " + TCP_PROXY_CLUSTER + " failed status=" + (<i32>f).toString() +
        "; tcp_proxy keeps its own cluster");
      this.dest = r.clusters.length - 1;
    }
  }

  track(seq: i32, answer: Answer, outcome: Outcome, message: string, s: Side): PendingCall | null {
    if (this.calls.length >= MAX_PENDING_CALLS) return null;
    const c = new PendingCall();
    c.seq = seq;
    c.startNs = getCurrentTimeNanoseconds();
    c.dest = this.dest;
    c.answer = answer;
    c.outcome = outcome;
    c.message = message;
    this.calls.push(c);
    return c;
  }

  /** Overwrites the method name with '$' and arranges the answer's replacement. */
  refuse(s: Side, outcome: Outcome, message: string, oneway: bool): void {
    const d = s.dec;
    const r = this.root_;
    const start = s.host(d.methodOffset);
    const dollars = new ArrayBuffer(d.methodLength);
    memory.fill(changetype<usize>(dollars), DOLLAR, <usize>d.methodLength);
    this.edits.push(new Edit(start, start + d.methodLength, dollars));
    count(r.metrics.requests[this.dest * OUTCOMES + outcome]);
    const c = this.track(d.seqId, oneway ? Answer.Drop : Answer.Replace, outcome, message, s);
    if (c !== null) c.name = s.buf.slice(d.nameOffset, d.nameOffset + d.nameLength);
  }

  callDone(s: Side): void {
    const d = s.dec;
    if (d.messageType != MessageType.Call && d.messageType != MessageType.Oneway) return;
    record(this.root_.metrics.requestBytes[this.dest], <u64>(d.pos - d.messageStart));
  }

  /**
   * Applies the edits of this callback by rewriting the host buffer whole. Returns how many bytes
   * the buffer grew (negative: shrank), so bytes still held keep their host offsets.
   */
  applyEdits(type: BufferType, size: u32): i32 {
    if (this.edits.length == 0) return 0;
    const edits = this.edits;
    this.edits = [];
    const cur = getBufferBytes(type, 0, size);
    if (!cur.ok) {
      log(LogLevel.Warn, "thrift: get_buffer_bytes failed status=" + (<i32>cur.status).toString() + "; call not refused");
      return 0;
    }
    let total = <i32>size;
    for (let i = 0; i < edits.length; i++) total += edits[i].bytes.byteLength - (edits[i].end - edits[i].start);
    const out = new ArrayBuffer(total);
    const src = changetype<usize>(cur.value);
    const dst = changetype<usize>(out);
    let from = 0;
    let at = 0;
    for (let i = 0; i < edits.length; i++) {
      const e = edits[i];
      memory.copy(dst + <usize>at, src + <usize>from, <usize>(e.start - from));
      at += e.start - from;
      memory.copy(dst + <usize>at, changetype<usize>(e.bytes), <usize>e.bytes.byteLength);
      at += e.bytes.byteLength;
      from = e.end;
    }
    memory.copy(dst + <usize>at, src + <usize>from, <usize>(<i32>size - from));
    const w = setBufferBytes(type, 0, size, out);
    if (w != WasmResult.Ok) {
      log(LogLevel.Warn, "thrift: set_buffer_bytes failed status=" + (<i32>w).toString());
      return 0;
    }
    return total - <i32>size;
  }

  onUpstreamData(data_size: u32, end_of_stream: bool): Action {
    const s = this.up;
    if (s === null || s.failed) return Action.Continue;
    if (!s.copyIn(BufferType.NetworkUpstreamData, data_size)) {
      s.failed = true;
      return Action.Continue;
    }
    const d = s.dec;
    while (true) {
      const st = d.decode(changetype<usize>(s.buf), s.len);
      if (st == DecodeStatus.Error) {
        count(this.root_.metrics.decodeErrors);
        s.failed = true;
        log(LogLevel.Debug, "thrift: context " + this.context_id.toString() + " upstream: " + d.error + "; passing replies through");
        break;
      }
      if (d.messageBeginReady && !s.begun) {
        s.begun = true;
        this.replyBegin(d.seqId);
      }
      if (st != DecodeStatus.Done) break;
      this.replyDone(s);
      s.begun = false;
    }
    if (!s.failed) s.compact();
    s.hostBase -= this.applyEdits(BufferType.NetworkUpstreamData, data_size);
    if ((s.partial || this.holding !== null) && !end_of_stream) return Action.Pause;
    s.hostBase = s.seen;
    return Action.Continue;
  }

  replyBegin(seq: i32): void {
    for (let i = 0; i < this.calls.length; i++) {
      const c = this.calls[i];
      if (c.seq == seq && c.answer != Answer.Pass) {
        this.holding = c;
        return;
      }
    }
  }

  replyDone(s: Side): void {
    const d = s.dec;
    const t = d.messageType;
    if (t != MessageType.Reply && t != MessageType.Exception) return;
    let at = -1;
    for (let i = 0; i < this.calls.length; i++) if (this.calls[i].seq == d.seqId) { at = i; break; }
    if (at < 0) return;
    const c = this.calls[at];
    this.calls.splice(at, 1);
    this.holding = null;
    const m = this.root_.metrics;
    const size = d.pos - d.messageStart;
    const start = s.host(d.messageStart);
    if (c.answer == Answer.Drop) {
      this.edits.push(new Edit(start, start + size, new ArrayBuffer(0)));
      return;
    }
    if (c.answer == Answer.Replace) {
      const isHeader = d.transport == ThriftTransport.Header;
      const hp = changetype<usize>(s.buf) + <usize>d.messageStart + 4;
      const hl = isHeader ? 10 + d.header.headerSize : 0;
      const bytes = encodeAppException(d.transport, d.protocol, c.name, c.seq, DENY_EXCEPTION_TYPE, c.message, hp, hl);
      this.edits.push(new Edit(start, start + size, bytes));
      record(m.responseBytes[c.dest], <u64>bytes.byteLength);
      return;
    }
    const outcome = t == MessageType.Exception ? Outcome.Exception : Outcome.Reply;
    count(m.requests[c.dest * OUTCOMES + outcome]);
    const now = getCurrentTimeNanoseconds();
    record(m.duration[c.dest], now > c.startNs ? (now - c.startNs) / 1000000 : 0);
    record(m.responseBytes[c.dest], <u64>size);
  }

  onDone(): bool {
    this.waiting = false;
    return true;
  }

  onDelete(): void {
    this.waiting = false;
  }
}

registerRootContext((context_id: u32): RootContext => new ThriftRoot(context_id), "thrift");
