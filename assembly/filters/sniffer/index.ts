// sniffer: classifies the first bytes of each connection and routes (route), guards (bypass) or
// counts (observe) it. Host glue only; parsing, matching and decisions are in config.ts,
// cidr.ts and decide.ts. See README.md and docs/design/sniffer-contract.md.
//
// Never throws or aborts; a failed host call is logged at warn and the connection continues
// untouched (tcp_proxy's own cluster), so only an explicit deny closes traffic.
import {
  Action, BufferType, Context, LifeSpan, LogLevel, MetricType, RootContext, StreamType, WasmResult,
  closeStream, continueStream, defineMetric, encodeSetEnvoyFilterStateArguments,
  getBufferBytesInto, getLogLevel, getPluginConfiguration, getPropertyBytes, incrementMetric, joinPath, log,
  registerRootContext, setEffectiveContext, setEnvoyFilterStateEncoded, setPropertyBytes, setPropertyFrom,
  setTickPeriodMilliseconds,
} from "../../runtime";
import { ClassifyFlags, Decision, Protocol, SniffState, classifyPtr, finishPtr } from "../../codecs/detect/index";
import { PROTOCOL_COUNT, protocolName } from "../../codecs/detect/result";
import { Mode, SnifferConfig, modeName, parseSnifferConfig } from "./config";
import { IpAddr, destinationAllowed, parseHostPort } from "./cidr";
import {
  Reason, Verdict, classifyReason, clusterFor, debugLine, keepLimit, metricName, tickPeriodMs, ticksToExpire,
  verdictFor, verdictName,
} from "./decide";
export * from "../../runtime/exports";

// Envoy stores set_property values as filter state "wasm." + path, path taken verbatim
// (source/extensions/common/wasm/context.cc, Context::setProperty), so these are one segment.
const PATH_PROTOCOL: ArrayBuffer = String.UTF8.encode("protomesh.protocol");
const PATH_SNI: ArrayBuffer = String.UTF8.encode("protomesh.sni");
const PATH_ALPN: ArrayBuffer = String.UTF8.encode("protomesh.alpn");
const PATH_DESTINATION: ArrayBuffer = joinPath(["destination", "address"]);
const TCP_PROXY_CLUSTER = "envoy.tcp_proxy.cluster";
const EMPTY_BUF: ArrayBuffer = new ArrayBuffer(0);
const NO_METRIC: i64 = -1;
const POOL_MAX: i32 = 256;
/** Smallest accumulation buffer; a reused context keeps its buffer up to BUF_POOLED_MAX bytes. */
const BUF_MIN: i32 = 64;
const BUF_POOLED_MAX: i32 = 1024;

/**
 * A connection's sniffing state: the detectors' state and the buffer the first bytes accumulate
 * in (the host copies straight into it). It belongs to a stream context, and stream contexts are
 * reused (SnifferRoot.createContext), so a connection allocates neither.
 */
class Sniff {
  st: SniffState = new SniffState();
  /** Sized by the first flights seen (reserve), so an idle pooled context holds little. */
  buf: ArrayBuffer = EMPTY_BUF;

  /** Makes room for `need` bytes, keeping the first `keep`. */
  reserve(need: i32, keep: i32): void {
    let cap = this.buf.byteLength;
    if (need <= cap) return;
    if (cap < BUF_MIN) cap = BUF_MIN;
    while (cap < need) cap <<= 1;
    const next = new ArrayBuffer(cap);
    memory.copy(changetype<usize>(next), changetype<usize>(this.buf), <usize>keep);
    this.buf = next;
  }
}

const enum Phase {
  Idle = 0,
  Pending = 1,
  Decided = 2,
}

@inline function statusText(s: WasmResult): string {
  return (<i32>s).toString();
}

class SnifferRoot extends RootContext {
  cfg: SnifferConfig | null = null;
  /** connections_total id per Protocol (the verdict is fixed per protocol by the config). */
  connMetric: StaticArray<i64> = new StaticArray<i64>(PROTOCOL_COUNT);
  timeoutMetric: i64 = NO_METRIC;
  capMetric: i64 = NO_METRIC;
  deniedRouteMetric: i64 = NO_METRIC;
  deniedDestinationMetric: i64 = NO_METRIC;
  /** UTF-8 protocol names for set_property. */
  protoValue: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(PROTOCOL_COUNT);
  /** Encoded set_envoy_filter_state arguments per Protocol (empty = write none). */
  clusterArgs: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(PROTOCOL_COUNT);
  tickCount: u32 = 0;
  expireTicks: u32 = 0;
  /** Pending list ends: addresses of stream contexts (see enqueue), 0 = none. */
  head: usize = 0;
  tail: usize = 0;
  /** Deleted stream contexts kept for reuse, at most POOL_MAX. */
  free: SnifferStream[] = [];
  /** Where the joined ALPN list is built (one VM thread: shared by all streams). */
  scratch: ArrayBuffer = new ArrayBuffer(256);
  debug: bool = false;
  metricWarned: bool = false;

  onConfigure(configuration_size: u32): bool {
    const raw = getPluginConfiguration();
    const parsed = parseSnifferConfig(raw.ok ? raw.text() : "");
    if (!parsed.ok) {
      log(LogLevel.Error, parsed.error);
      return false;
    }
    const cfg = parsed.config!;
    this.cfg = cfg;
    this.defineMetrics(cfg);
    for (let i = 0; i < PROTOCOL_COUNT; i++) {
      const p = <Protocol>i;
      this.protoValue[i] = String.UTF8.encode(protocolName(p));
      const cluster = clusterFor(cfg, p);
      this.clusterArgs[i] = cluster.length == 0
        ? EMPTY_BUF
        : encodeSetEnvoyFilterStateArguments(TCP_PROXY_CLUSTER, cluster, LifeSpan.DownstreamConnection);
    }
    const period = tickPeriodMs(cfg.detectTimeoutMs);
    this.expireTicks = ticksToExpire(cfg.detectTimeoutMs, period);
    const s = setTickPeriodMilliseconds(<u32>period);
    if (s != WasmResult.Ok) {
      log(LogLevel.Warn, "sniffer: set_tick_period_milliseconds failed status=" + statusText(s) +
        "; detect_timeout_ms will not fire");
      this.expireTicks = 0;
    }
    this.refreshLogLevel();
    return true;
  }

  defineMetrics(cfg: SnifferConfig): void {
    const prefix = cfg.statPrefix;
    const mode = modeName(cfg.mode);
    const connKeys = ["protocol", "mode", "action"];
    for (let i = 0; i < PROTOCOL_COUNT; i++) {
      const p = <Protocol>i;
      this.connMetric[i] = this.define(metricName(prefix, "connections_total", connKeys,
        [protocolName(p), mode, verdictName(verdictFor(cfg, p))]));
    }
    this.timeoutMetric = this.define(metricName(prefix, "timeouts_total", ["mode"], [mode]));
    this.capMetric = this.define(metricName(prefix, "cap_reached_total", ["mode"], [mode]));
    this.deniedRouteMetric = cfg.mode == Mode.Route
      ? this.define(metricName(prefix, "denied_total", ["mode", "reason"], [mode, "route"]))
      : NO_METRIC;
    this.deniedDestinationMetric = cfg.mode == Mode.Bypass
      ? this.define(metricName(prefix, "denied_total", ["mode", "reason"], [mode, "destination"]))
      : NO_METRIC;
  }

  define(name: string): i64 {
    const r = defineMetric(MetricType.Counter, name);
    if (r.status != WasmResult.Ok) {
      log(LogLevel.Warn, "sniffer: define_metric " + name + " failed status=" + statusText(r.status));
      return NO_METRIC;
    }
    return <i64>r.value;
  }

  count(id: i64): void {
    if (id < 0) return;
    const s = incrementMetric(<u32>id, 1);
    if (s != WasmResult.Ok && !this.metricWarned) {
      this.metricWarned = true;
      log(LogLevel.Warn, "sniffer: increment_metric failed status=" + statusText(s) + " (logged once per VM)");
    }
  }

  refreshLogLevel(): void {
    const l = getLogLevel();
    this.debug = l.ok && l.value <= <u32>LogLevel.Debug;
  }

  /** The host deleted `s` (its books are closed): keep it for the next connection. */
  recycle(s: SnifferStream): void {
    if (this.free.length >= POOL_MAX) return;
    const w = s.work;
    if (w.buf.byteLength > BUF_POOLED_MAX) w.buf = EMPTY_BUF;
    this.free.push(s);
  }

  // Pending connections in start order = expiry order (one timeout per VM): a doubly linked
  // list gives O(1) append, O(1) removal on decision and O(expired) work per tick. Links are
  // addresses, not references, so linking costs no GC write barrier: a listed context is always
  // alive (the runtime pins it until proxy_on_delete, and closeBooks unlinks it before that).
  enqueue(s: SnifferStream): void {
    const a = changetype<usize>(s);
    s.expireAt = this.tickCount + this.expireTicks;
    s.prev = this.tail;
    s.next = 0;
    const t = this.tail;
    if (t != 0) changetype<SnifferStream>(t).next = a;
    else this.head = a;
    this.tail = a;
    s.queued = true;
  }

  unlink(s: SnifferStream): void {
    if (!s.queued) return;
    const p = s.prev;
    const n = s.next;
    if (p != 0) changetype<SnifferStream>(p).next = n;
    else this.head = n;
    if (n != 0) changetype<SnifferStream>(n).prev = p;
    else this.tail = p;
    s.prev = 0;
    s.next = 0;
    s.queued = false;
  }

  onTick(): void {
    this.tickCount++;
    this.refreshLogLevel();
    if (this.expireTicks == 0) return;
    while (true) {
      const a = this.head;
      if (a == 0) break;
      const s = changetype<SnifferStream>(a);
      if (<i32>(this.tickCount - s.expireAt) < 0) break;
      this.unlink(s);
      s.expire();
    }
  }

  createContext(context_id: u32): Context {
    const n = this.free.length;
    if (n == 0) return new SnifferStream(context_id, this);
    const s = this.free.pop();
    s.renew(context_id);
    return s;
  }
}

class SnifferStream extends Context {
  cfg: SnifferConfig | null = null;
  /** Detector state and the first bytes (up to keepLimit, in `work.buf`) while Pending. */
  work: Sniff = new Sniff();
  phase: Phase = Phase.Idle;
  accLen: i32 = 0;
  /** Downstream bytes seen in total (the debug line's bytes=). */
  total: i32 = 0;
  flags: u32 = 0;
  /** Pending list links (SnifferRoot.enqueue): addresses of stream contexts, 0 = none. */
  prev: usize = 0;
  next: usize = 0;
  queued: bool = false;
  expireAt: u32 = 0;

  /** A reused context for a new connection: as if just constructed (root and work stay). */
  renew(context_id: u32): void {
    this.context_id = context_id;
    this.cfg = null;
    this.phase = Phase.Idle;
    this.accLen = 0;
    this.total = 0;
    this.flags = 0;
    this.prev = 0;
    this.next = 0;
    this.queued = false;
    this.expireAt = 0;
  }

  @inline get sniffer(): SnifferRoot {
    return changetype<SnifferRoot>(this.root);
  }

  onNewConnection(): Action {
    const r = this.sniffer;
    const cfg = r.cfg;
    if (cfg === null) return Action.Continue;
    this.cfg = cfg;
    if (cfg.mode == Mode.Bypass && cfg.allowedDestinations !== null && !this.destinationOk(cfg)) {
      this.phase = Phase.Decided;
      r.count(r.deniedDestinationMetric);
      const s = closeStream(StreamType.Downstream);
      if (s != WasmResult.Ok) {
        log(LogLevel.Warn, "sniffer: close_stream(downstream) failed status=" + statusText(s) + "; letting the connection through");
        return Action.Continue;
      }
      return Action.Pause;
    }
    const st = this.work.st;
    st.reset();
    st.tlsCap = cfg.maxTlsBytes;
    this.phase = Phase.Pending;
    if (r.expireTicks != 0) r.enqueue(this);
    // route must hold tcp_proxy's onNewConnection (it picks the cluster there) until decided.
    return cfg.mode == Mode.Route ? Action.Pause : Action.Continue;
  }

  destinationOk(cfg: SnifferConfig): bool {
    const v = getPropertyBytes(PATH_DESTINATION);
    if (!v.ok) {
      log(LogLevel.Warn, "sniffer: destination.address unavailable status=" + statusText(v.status) + "; allowing");
      return true;
    }
    const a = new IpAddr();
    const port = parseHostPort(v.value, a);
    if (port < 0) {
      log(LogLevel.Warn, "sniffer: destination.address \"" + v.text() + "\" not understood; allowing");
      return true;
    }
    if (destinationAllowed(cfg.allowedDestinations!, a, port)) return true;
    if (this.sniffer.debug) {
      log(LogLevel.Debug, "sniffer: destination=" + v.text() + " outside allowed_destinations action=deny");
    }
    return false;
  }

  onUpstreamData(data_size: u32, end_of_stream: bool): Action {
    // Server-first (observe/bypass with IMMEDIATE): the greeting came before any client byte.
    if (this.phase == Phase.Pending && this.total == 0 && data_size > 0) {
      this.flags |= ClassifyFlags.AfterServerGreeting;
    }
    return Action.Continue;
  }

  onDownstreamData(data_size: u32, end_of_stream: bool): Action {
    if (this.phase != Phase.Pending) return Action.Continue;
    const cfg = this.cfg!;
    const w = this.work;
    const st = w.st;
    const route = cfg.mode == Mode.Route;
    const size = <i32>data_size;
    // route holds the bytes (we answer Pause), so the host buffer starts with what we kept;
    // observe/bypass answer Continue and tcp_proxy drains it, so each callback has new bytes.
    let start = 0;
    let fresh = size;
    if (route) {
      if (size < this.accLen) return this.abandon("downstream buffer shrank while held");
      start = this.accLen;
      fresh = size - this.accLen;
      this.total = size;
    } else {
      this.total += size;
    }
    const limit = keepLimit(cfg, (st.alive & (<u32>1 << <u32>Protocol.Tls)) != 0 || !st.started);
    let want = limit - this.accLen;
    if (want > fresh) want = fresh;
    if (want > 0) {
      w.reserve(this.accLen + want, this.accLen);
      const n = getBufferBytesInto(BufferType.NetworkDownstreamData, <u32>start, <u32>want, w.buf, this.accLen);
      if (n < 0) return this.abandon("get_buffer_bytes failed status=" + statusText(<WasmResult>(-n)));
      this.accLen += n;
    }
    const p = changetype<usize>(w.buf);
    let d = st.decision;
    if (this.accLen > 0) d = classifyPtr(st, p, this.accLen, cfg.maxDetectBytes, this.flags);
    if (d == Decision.NeedMoreData) {
      if (!end_of_stream) return route ? Action.Pause : Action.Continue;
      finishPtr(st, p, this.accLen);
      return this.decide(st.protocol, Reason.Eos, false);
    }
    return this.decide(st.protocol, classifyReason(st), false);
  }

  /** detect_timeout_ms passed (called from the root's on_tick): tcp, then let the data go. */
  expire(): void {
    const s = setEffectiveContext(this.context_id);
    if (s != WasmResult.Ok) {
      log(LogLevel.Warn, "sniffer: set_effective_context(" + this.context_id.toString() + ") failed status=" +
        statusText(s));
      this.finishQuietly();
      return;
    }
    const a = this.decide(Protocol.Tcp, Reason.Timeout, false);
    if (this.cfg!.mode == Mode.Route && a == Action.Continue) {
      const c = continueStream(StreamType.Downstream);
      if (c != WasmResult.Ok) log(LogLevel.Warn, "sniffer: continue_stream(downstream) failed status=" + statusText(c));
    }
  }

  /**
   * Publishes the result once: filter state, metrics, debug line, then the verdict. `closing`:
   * the connection is already gone, so only metrics and the log line are written.
   */
  decide(proto: Protocol, reason: Reason, closing: bool): Action {
    const r = this.sniffer;
    const cfg = this.cfg!;
    const w = this.work;
    r.unlink(this);
    this.phase = Phase.Decided;
    const verdict = verdictFor(cfg, proto);
    if (!closing) {
      // proto < PROTOCOL_COUNT (an enum value): the per-protocol tables need no bounds check.
      const s = setPropertyBytes(PATH_PROTOCOL, unchecked(r.protoValue[<i32>proto]));
      if (s != WasmResult.Ok) log(LogLevel.Warn, "sniffer: set_property protomesh.protocol failed status=" + statusText(s));
      if (proto == Protocol.Tls && this.accLen > 0) this.publishTls(w);
    }
    r.count(unchecked(r.connMetric[<i32>proto]));
    if (reason == Reason.Timeout) r.count(r.timeoutMetric);
    else if (reason == Reason.Cap) r.count(r.capMetric);
    if (verdict == Verdict.Deny) r.count(r.deniedRouteMetric);
    if (r.debug) log(LogLevel.Debug, debugLine(proto, this.total, reason, verdict));
    if (closing) return Action.Continue;
    if (verdict == Verdict.Deny) {
      const c = closeStream(StreamType.Downstream);
      if (c == WasmResult.Ok) return Action.Pause;
      log(LogLevel.Warn, "sniffer: close_stream(downstream) failed status=" + statusText(c) + "; letting the connection through");
      return Action.Continue;
    }
    const args = unchecked(r.clusterArgs[<i32>proto]);
    if (args.byteLength > 0) {
      const f = setEnvoyFilterStateEncoded(args);
      if (f != WasmResult.Ok) {
        log(LogLevel.Warn, "sniffer: set_envoy_filter_state " + TCP_PROXY_CLUSTER + " failed status=" + statusText(f) +
          "; tcp_proxy keeps its own cluster");
      }
    }
    return Action.Continue;
  }

  /** SNI and the comma-joined ALPN list, from the detector's offsets into `acc`. */
  publishTls(work: Sniff): void {
    const p = changetype<usize>(work.buf);
    const t = work.st.tls;
    if (t.sniOffset >= 0 && t.sniOffset + t.sniLength <= this.accLen) {
      const s = setPropertyFrom(PATH_SNI, p + <usize>t.sniOffset, <usize>t.sniLength);
      if (s != WasmResult.Ok) log(LogLevel.Warn, "sniffer: set_property protomesh.sni failed status=" + statusText(s));
    }
    const end = t.alpnOffset + t.alpnLength;
    if (t.alpnOffset >= 0 && end <= this.accLen) {
      // Entries are <len><name>; the joined form replaces each length byte but the first with ','.
      const r = this.sniffer;
      const size = t.alpnLength - 1;
      if (r.scratch.byteLength < size) r.scratch = new ArrayBuffer(size);
      const o = changetype<usize>(r.scratch);
      let w = 0;
      let i = t.alpnOffset;
      while (i < end) {
        const n = <i32>load<u8>(p + <usize>i);
        if (w > 0) {
          store<u8>(o + <usize>w, 0x2c);
          w++;
        }
        memory.copy(o + <usize>w, p + <usize>(i + 1), <usize>n);
        w += n;
        i += 1 + n;
      }
      const s = setPropertyFrom(PATH_ALPN, o, <usize>size);
      if (s != WasmResult.Ok) log(LogLevel.Warn, "sniffer: set_property protomesh.alpn failed status=" + statusText(s));
    }
  }

  /** A host call failed mid-sniff: stop sniffing and let the connection through unrouted. */
  abandon(why: string): Action {
    log(LogLevel.Warn, "sniffer: " + why + "; continuing without a decision");
    this.finishQuietly();
    return Action.Continue;
  }

  finishQuietly(): void {
    const r = this.sniffer;
    r.unlink(this);
    this.phase = Phase.Decided;
  }

  // A connection that ends undecided is still counted (decision=eos), with what it sent.
  onDone(): bool {
    this.closeBooks();
    return true;
  }

  onDelete(): void {
    this.closeBooks();
    this.sniffer.recycle(this);
  }

  closeBooks(): void {
    if (this.phase != Phase.Pending) return;
    const w = this.work;
    const st = w.st;
    if (this.accLen > 0) finishPtr(st, changetype<usize>(w.buf), this.accLen);
    this.decide(this.accLen > 0 ? st.protocol : Protocol.Tcp, Reason.Eos, true);
  }
}

registerRootContext((context_id: u32): RootContext => new SnifferRoot(context_id), "sniffer");
