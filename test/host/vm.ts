/**
 * One wasm VM (Envoy's per-worker Wasm / proxy-wasm-cpp-host WasmBase): a WebAssembly.Instance
 * of the plugin's module, its contexts, the "current context" bookkeeping host functions use,
 * memory helpers, and failure handling (a trap or proc_exit in any call fails the VM for good,
 * cpp-host WasmBase::fail(FailState::RuntimeError)).
 */
import { WasmResult } from "./abi.js";
import { Context } from "./context.js";
import { buildImports } from "./imports.js";
import type { LogStore } from "./logs.js";
import { VmMetrics, type StatsStore } from "./metrics.js";
import type { SharedData, SharedQueues } from "./shared.js";
import type { CallManager } from "./calls.js";
import type { EffectiveFailurePolicy } from "./failure-policy.js";
import type { ClusterConfig, NodeMetadata } from "./types.js";

export interface PluginSpec {
  readonly name: string;
  readonly rootId: string;
  readonly vmId: string;
  readonly configuration: Uint8Array;
  readonly vmConfiguration: Uint8Array;
  /** PluginConfig.fail_open: cpp-host's PluginBase::fail_open_, read by CHECK_FAIL in every callback. */
  readonly failOpen: boolean;
  /** The policy Envoy's PluginConfig resolved (failure-policy.ts): decides for new connections. */
  readonly failurePolicy: EffectiveFailurePolicy;
  /** ReloadConfig.backoff.base_interval in ms (FAIL_RELOAD). */
  readonly reloadBaseIntervalMs: number;
  /** Numeric proxy-wasm log level (Trace=0 … Critical=5). */
  readonly logLevel: number;
}

/** What a VM needs from the process around it (implemented by Host). */
export interface HostServices {
  readonly logs: LogStore;
  readonly statsStore: StatsStore;
  readonly sharedData: SharedData;
  readonly sharedQueues: SharedQueues;
  readonly clusters: Map<string, ClusterConfig>;
  readonly calls: CallManager;
  /** Bootstrap `node.metadata` (`xds.node.metadata`). */
  readonly nodeMetadata?: NodeMetadata;
  /** Whether the CEL foreign functions exist (cel.ts); false models a Windows build. */
  readonly celParser?: boolean;
  /** False: timers are not armed and only Plugin.tick() runs on_tick (HostOptions.timers). */
  readonly timers?: boolean;
}

/** Thrown by proc_exit / env.abort to unwind the wasm stack; the VM is then failed. */
export class ProcExit extends Error {
  constructor(readonly code: number) {
    super(`proc_exit(${code})`);
  }
}

type WasmFn = (...args: number[]) => number;

/** The proxy_on_* exports a VM may call; missing ones are undefined (Envoy skips them). */
export interface ModuleExports {
  readonly memory: WebAssembly.Memory;
  readonly malloc: ((size: number) => number) | undefined;
  readonly _initialize: (() => void) | undefined;
  readonly _start: (() => void) | undefined;
  readonly proxy_on_context_create: WasmFn | undefined;
  readonly proxy_on_vm_start: WasmFn | undefined;
  readonly proxy_on_configure: WasmFn | undefined;
  readonly proxy_on_tick: WasmFn | undefined;
  readonly proxy_on_new_connection: WasmFn | undefined;
  readonly proxy_on_downstream_data: WasmFn | undefined;
  readonly proxy_on_upstream_data: WasmFn | undefined;
  readonly proxy_on_downstream_connection_close: WasmFn | undefined;
  readonly proxy_on_upstream_connection_close: WasmFn | undefined;
  readonly proxy_on_request_headers: WasmFn | undefined;
  readonly proxy_on_request_body: WasmFn | undefined;
  readonly proxy_on_request_trailers: WasmFn | undefined;
  readonly proxy_on_response_headers: WasmFn | undefined;
  readonly proxy_on_response_body: WasmFn | undefined;
  readonly proxy_on_response_trailers: WasmFn | undefined;
  readonly proxy_on_done: WasmFn | undefined;
  readonly proxy_on_log: WasmFn | undefined;
  readonly proxy_on_delete: WasmFn | undefined;
  readonly proxy_on_http_call_response: WasmFn | undefined;
  readonly proxy_on_queue_ready: WasmFn | undefined;
  readonly proxy_on_grpc_receive_initial_metadata: WasmFn | undefined;
  readonly proxy_on_grpc_receive: WasmFn | undefined;
  readonly proxy_on_grpc_receive_trailing_metadata: WasmFn | undefined;
  readonly proxy_on_grpc_close: WasmFn | undefined;
  readonly proxy_on_foreign_function: WasmFn | undefined;
}

export type CallbackName = Exclude<keyof ModuleExports, "memory" | "malloc" | "_initialize" | "_start">;

export class WasmVm {
  failed = false;
  failMessage = "";
  readonly contexts = new ContextTable();
  readonly metrics: VmMetrics;
  rootContext!: Context;
  /** Timer per root context (Wasm::setTimerPeriod); period in ms. */
  readonly tickPeriods = new Map<number, number>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  /** cpp-host callout ids: HttpCall = 0 mod 4, GrpcCall = 1 mod 4, pre-incremented by 4. */
  private nextHttpCallId = 0;
  private nextGrpcCallId = 1;

  private exp!: ModuleExports;
  private instance!: WebAssembly.Instance;
  private nextContextId = 1;
  private contextIdsWrapped = false;
  private current: Context;
  private effectiveId = 0;
  private depth = 0;
  private readonly afterActions: Array<() => void> = [];
  /** cpp-host stopNextIteration: set by send_local_response, cleared when the next call starts. */
  stopNextIteration = false;

  // Cached memory views, refreshed when the memory grows (the old ArrayBuffer detaches).
  private buf: ArrayBuffer = new ArrayBuffer(0);
  private u8: Uint8Array = new Uint8Array(0);
  private dv: DataView = new DataView(this.buf);
  /** The module's malloc (or proxy_on_memory_allocate), read once at instantiation. */
  private malloc: ((size: number) => number) | undefined = undefined;
  /** key(): decoded names by pointer, with the bytes they were decoded from. */
  private readonly keyCache = new Map<number, KeyCacheEntry>();
  private readonly rawKeyCache = new Map<number, KeyCacheEntry>();

  /** The VM context (id 0): used for _initialize and malloc, like cpp-host's vm_context(). */
  readonly vmContext: Context;

  constructor(
    readonly plugin: PluginSpec,
    readonly host: HostServices,
    /** -1 for the canary, 0..n-1 for workers. */
    readonly index: number,
  ) {
    this.metrics = new VmMetrics(host.statsStore);
    this.vmContext = new Context(this, 0, null);
    this.current = this.vmContext;
  }

  /** Instantiates the module and runs _initialize/_start; false when the VM failed. */
  instantiate(module: WebAssembly.Module): boolean {
    try {
      this.instance = new WebAssembly.Instance(module, buildImports(this));
    } catch (err) {
      this.fail(`Failed to instantiate wasm module: ${errorText(err)}`);
      return false;
    }
    const e = this.instance.exports as Record<string, unknown>;
    const fn = (name: string) => (typeof e[name] === "function" ? (e[name] as WasmFn) : undefined);
    const memory = e.memory;
    if (!(memory instanceof WebAssembly.Memory)) {
      this.fail("Wasm module is missing memory export.");
      return false;
    }
    this.exp = {
      memory,
      malloc: fn("malloc") ?? fn("proxy_on_memory_allocate"),
      _initialize: fn("_initialize"),
      _start: fn("_initialize") ? undefined : fn("_start"),
      proxy_on_context_create: fn("proxy_on_context_create"),
      proxy_on_vm_start: fn("proxy_on_vm_start"),
      proxy_on_configure: fn("proxy_on_configure"),
      proxy_on_tick: fn("proxy_on_tick"),
      proxy_on_new_connection: fn("proxy_on_new_connection"),
      proxy_on_downstream_data: fn("proxy_on_downstream_data"),
      proxy_on_upstream_data: fn("proxy_on_upstream_data"),
      proxy_on_downstream_connection_close: fn("proxy_on_downstream_connection_close"),
      proxy_on_upstream_connection_close: fn("proxy_on_upstream_connection_close"),
      proxy_on_request_headers: fn("proxy_on_request_headers"),
      proxy_on_request_body: fn("proxy_on_request_body"),
      proxy_on_request_trailers: fn("proxy_on_request_trailers"),
      proxy_on_response_headers: fn("proxy_on_response_headers"),
      proxy_on_response_body: fn("proxy_on_response_body"),
      proxy_on_response_trailers: fn("proxy_on_response_trailers"),
      proxy_on_done: fn("proxy_on_done"),
      proxy_on_log: fn("proxy_on_log"),
      proxy_on_delete: fn("proxy_on_delete"),
      proxy_on_http_call_response: fn("proxy_on_http_call_response"),
      proxy_on_queue_ready: fn("proxy_on_queue_ready"),
      proxy_on_grpc_receive_initial_metadata: fn("proxy_on_grpc_receive_initial_metadata"),
      proxy_on_grpc_receive: fn("proxy_on_grpc_receive"),
      proxy_on_grpc_receive_trailing_metadata: fn("proxy_on_grpc_receive_trailing_metadata"),
      proxy_on_grpc_close: fn("proxy_on_grpc_close"),
      proxy_on_foreign_function: fn("proxy_on_foreign_function"),
    };
    this.malloc = this.exp.malloc;
    this.refreshViews();
    // cpp-host WasmBase::getFunctions: a module without malloc fails with MissingFunction.
    if (!this.exp.malloc) {
      this.fail("Wasm module is missing malloc function.");
      return false;
    }
    const init = this.exp._initialize ?? this.exp._start;
    if (init) {
      this.current = this.vmContext;
      try {
        init();
      } catch (err) {
        this.fail(`Function: ${this.exp._initialize ? "_initialize" : "_start"} failed: ${errorText(err)}`);
        return false;
      }
    }
    return true;
  }

  get exports(): ModuleExports {
    return this.exp;
  }

  has(name: CallbackName): boolean {
    return this.exp[name] !== undefined;
  }

  /** Id of the plugin's root context in this VM (1 once started). */
  get rootContextId(): number {
    return this.rootContext?.id ?? 0;
  }

  memoryPages(): number {
    return this.exp.memory.buffer.byteLength / 65536;
  }

  // ---------------------------------------------------------------- contexts

  createRootContext(): Context {
    const ctx = new Context(this, this.allocContextId(), null);
    this.contexts.set(ctx.id, ctx);
    this.rootContext = ctx;
    return ctx;
  }

  createStreamContext(): Context {
    const ctx = new Context(this, this.allocContextId(), this.rootContext);
    this.contexts.set(ctx.id, ctx);
    return ctx;
  }

  deleteContext(ctx: Context): void {
    ctx.cancelPendingCalls();
    this.contexts.delete(ctx.id);
  }

  private allocContextId(): number {
    // Until the counter wraps every id ahead of it is unused: no lookup needed.
    if (!this.contextIdsWrapped) {
      const id = this.nextContextId;
      if (id < 0xffffffff) {
        this.nextContextId = id + 1;
        return id;
      }
      this.contextIdsWrapped = true;
    }
    for (;;) {
      const id = this.nextContextId;
      this.nextContextId = (this.nextContextId + 1) >>> 0;
      if (id !== 0 && !this.contexts.has(id)) return id;
    }
  }

  /** cpp-host contextOrEffectiveContext(). */
  context(): Context {
    if (this.effectiveId === 0) return this.current;
    return this.contexts.get(this.effectiveId) ?? this.current;
  }

  setEffectiveContext(id: number): WasmResult {
    // WasmBase::getContext(0) finds the VM context (Envoy's createVmContext registers id 0), so 0
    // is accepted; effective id 0 then means "the current context" (exports.cc
    // set_effective_context, contextOrEffectiveContext).
    if (id !== 0 && !this.contexts.has(id)) return WasmResult.BadArgument;
    this.effectiveId = id;
    return WasmResult.Ok;
  }

  /**
   * Runs `fn` with `ctx` as the current context and no effective context, as if a callback of
   * `ctx` were executing (cpp-host SaveRestoreContext): lets tests call host functions directly.
   */
  withContext<T>(ctx: Context, fn: () => T): T {
    const prev = this.current;
    const prevEffective = this.effectiveId;
    this.current = ctx;
    this.effectiveId = 0;
    try {
      return fn();
    } finally {
      this.current = prev;
      this.effectiveId = prevEffective;
    }
  }

  nextHttpCallToken(): number {
    return (this.nextHttpCallId = (this.nextHttpCallId + 4) >>> 0);
  }

  nextGrpcCallToken(): number {
    return (this.nextGrpcCallId = (this.nextGrpcCallId + 4) >>> 0);
  }

  // ---------------------------------------------------------------- calls into wasm

  /**
   * Calls a proxy_on_* export with `ctx` current. Returns the export's result (0 for void, and
   * 0 when the export is missing or the VM failed during the call: callers check `failed`).
   * After-VM-call actions (Envoy's addAfterVmCallAction: continueReading, close, local reply)
   * run when the outermost call returns.
   */
  invoke(ctx: Context, name: CallbackName, a = 0, b = 0, c = 0, d = 0): number {
    return this.call(ctx, this.exp[name], name, a, b, c, d);
  }

  /**
   * invoke() with the export already looked up (`vm.exports.proxy_on_…`, a load V8 can cache
   * per call site, where `exp[name]` with a varying name cannot be); `name` names it in the
   * failure message.
   */
  call(ctx: Context, fn: WasmFn | undefined, name: CallbackName, a = 0, b = 0, c = 0, d = 0): number {
    if (fn === undefined || this.failed) return 0;
    const prev = this.current;
    const prevEffective = this.effectiveId;
    if (this.depth === 0) this.stopNextIteration = false;
    this.current = ctx;
    this.effectiveId = 0;
    this.depth++;
    let r = 0;
    try {
      r = fn(ctx.id, a, b, c, d);
    } catch (err) {
      this.fail(`Function: ${name} failed: ${errorText(err)}`);
      r = 0;
    } finally {
      this.current = prev;
      this.effectiveId = prevEffective;
      this.depth--;
    }
    if (this.depth === 0 && this.afterActions.length > 0) this.runAfterActions();
    return r;
  }

  addAfterVmCallAction(action: () => void): void {
    this.afterActions.push(action);
  }

  private runAfterActions(): void {
    // Actions may call back into the VM (continueReading → next filter → …): take the list first.
    const actions = this.afterActions.splice(0, this.afterActions.length);
    for (const a of actions) a();
  }

  /** Marks the VM failed for good (every later callback is skipped) and logs it. */
  fail(message: string): void {
    if (this.failed) return;
    this.failed = true;
    this.failMessage = message;
    for (const t of this.timers.values()) clearInterval(t);
    this.timers.clear();
    // Envoy Wasm::error: "Wasm VM failed {message}" (source/extensions/common/wasm/wasm.cc).
    this.host.logs.add(5, `Wasm VM failed ${message}`, this.plugin.name, this.index, this.current.id);
  }

  // ---------------------------------------------------------------- memory

  /**
   * The current byte view of wasm memory. memory.grow detaches the old ArrayBuffer (its views
   * then have length 0), so a non-empty cached view is still the live one and the costly
   * `memory.buffer` getter is only read after a grow (or while memory has no pages).
   */
  private view(): Uint8Array {
    const u8 = this.u8;
    if (u8.length !== 0) return u8;
    this.refreshViews();
    return this.u8;
  }

  refreshViews(): void {
    const b = this.exp.memory.buffer;
    if (b !== this.buf) {
      this.buf = b;
      this.u8 = new Uint8Array(b);
      this.dv = new DataView(b);
    }
  }

  /** True when [ptr, ptr + size) lies inside wasm memory (no view allocated). */
  inBounds(ptr: number, size: number): boolean {
    return (ptr >>> 0) + (size >>> 0) <= this.view().length;
  }

  /** A view of wasm memory (valid until the next call into the module), or null when out of bounds. */
  slice(ptr: number, size: number): Uint8Array | null {
    const u8 = this.view();
    ptr >>>= 0;
    size >>>= 0;
    if (ptr + size > u8.length) return null;
    return u8.subarray(ptr, ptr + size);
  }

  /** Copies bytes out of wasm memory. */
  copyOut(ptr: number, size: number): Uint8Array | null {
    const u8 = this.view();
    ptr >>>= 0;
    size >>>= 0;
    if (ptr + size > u8.length) return null;
    if (size > SMALL_COPY) return u8.slice(ptr, ptr + size);
    // Short values (property values, names): a byte loop beats slice()'s fixed cost.
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = u8[ptr + i];
    return out;
  }

  string(ptr: number, size: number): string | null {
    const u8 = this.view();
    ptr >>>= 0;
    size >>>= 0;
    if (ptr + size > u8.length) return null;
    return decodeUtf8(u8, ptr, size);
  }

  /**
   * string() for names a module passes again and again (property paths, foreign function and
   * metric names): the decoded string is remembered per pointer and reused while the bytes
   * there are the same, so lookups keyed by it hit V8's cached string hash instead of decoding
   * and hashing a fresh string per call. The bytes are compared on every use: a pointer whose
   * memory was reused for other bytes decodes again.
   */
  key(ptr: number, size: number): string | null {
    const u8 = this.view();
    ptr >>>= 0;
    size >>>= 0;
    if (ptr + size > u8.length) return null;
    if (size > KEY_CACHE_MAX_BYTES) return decodeUtf8(u8, ptr, size);
    const cached = this.keyCache.get(ptr);
    if (cached !== undefined && cached.bytes.length === size && this.sameBytes(ptr, cached)) return cached.str;
    const str = decodeUtf8(u8, ptr, size);
    if (this.keyCache.size >= KEY_CACHE_MAX_ENTRIES) this.keyCache.clear();
    const bytes = u8.slice(ptr, ptr + size);
    this.keyCache.set(ptr, { bytes, words: new DataView(bytes.buffer), str });
    return str;
  }

  /**
   * key() for binary values (foreign-function arguments): the bytes as a latin1 string (one
   * char per byte, so distinct bytes give distinct strings), remembered per pointer like key().
   * null when out of bounds or longer than the cache takes.
   */
  rawKey(ptr: number, size: number): string | null {
    const u8 = this.view();
    ptr >>>= 0;
    size >>>= 0;
    if (ptr + size > u8.length || size > KEY_CACHE_MAX_BYTES) return null;
    const cached = this.rawKeyCache.get(ptr);
    if (cached !== undefined && cached.bytes.length === size && this.sameBytes(ptr, cached)) return cached.str;
    const str = Buffer.from(u8.buffer, u8.byteOffset + ptr, size).toString("latin1");
    if (this.rawKeyCache.size >= KEY_CACHE_MAX_ENTRIES) this.rawKeyCache.clear();
    const bytes = u8.slice(ptr, ptr + size);
    this.rawKeyCache.set(ptr, { bytes, words: new DataView(bytes.buffer), str });
    return str;
  }

  /** Memory at ptr holds the cached bytes (in bounds: checked by key()); 4 bytes per step. */
  private sameBytes(ptr: number, cached: KeyCacheEntry): boolean {
    const size = cached.bytes.length;
    const dv = this.dv;
    const words = cached.words;
    let i = 0;
    for (; i + 4 <= size; i += 4) if (dv.getUint32(ptr + i, true) !== words.getUint32(i, true)) return false;
    const u8 = this.u8;
    const b = cached.bytes;
    for (; i < size; i++) if (u8[ptr + i] !== b[i]) return false;
    return true;
  }

  setU32(ptr: number, value: number): boolean {
    const u8 = this.view();
    ptr >>>= 0;
    if (ptr + 4 > u8.length) return false;
    this.dv.setUint32(ptr, value >>> 0, true);
    return true;
  }

  setU64(ptr: number, value: bigint): boolean {
    const u8 = this.view();
    ptr >>>= 0;
    if (ptr + 8 > u8.length) return false;
    this.dv.setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }

  setBytes(ptr: number, bytes: Uint8Array): boolean {
    const u8 = this.view();
    ptr >>>= 0;
    if (ptr + bytes.length > u8.length) return false;
    u8.set(bytes, ptr);
    return true;
  }

  getU32(ptr: number): number | null {
    const u8 = this.view();
    ptr >>>= 0;
    if (ptr + 4 > u8.length) return null;
    return this.dv.getUint32(ptr, true);
  }

  /**
   * WasmBase::allocMemory: asks the module's malloc for `size` bytes (returns 0 on failure).
   * malloc runs with the VM context current, as in cpp-host.
   */
  alloc(size: number): number {
    const malloc = this.malloc;
    if (malloc === undefined || this.failed) return 0;
    const prev = this.current;
    const prevEffective = this.effectiveId;
    this.current = this.vmContext;
    this.effectiveId = 0;
    let p = 0;
    try {
      p = malloc(size) >>> 0;
    } catch (err) {
      this.current = prev;
      this.effectiveId = prevEffective;
      // Unwind the wasm code that called the host function too: the VM is dead.
      this.fail(`Function: malloc failed: ${errorText(err)}`);
      throw err;
    }
    this.current = prev;
    this.effectiveId = prevEffective;
    return p;
  }

  /**
   * WasmBase::copyToPointerSize: malloc + copy, then write pointer and size; an empty value is
   * pointer 0, size 0. Returns a WasmResult.
   */
  copyToPointerSize(data: Uint8Array, ptrPtr: number, sizePtr: number): WasmResult {
    return this.copyRangeToPointerSize(data, 0, data.length, ptrPtr, sizePtr);
  }

  /** copyToPointerSize(data.subarray(start, end)) without the subarray. */
  copyRangeToPointerSize(data: Uint8Array, start: number, end: number, ptrPtr: number, sizePtr: number): WasmResult {
    const n = end - start;
    let p = 0;
    if (n > 0) {
      p = this.alloc(n);
      if (p === 0) return WasmResult.InvalidMemoryAccess;
      // malloc may have grown memory: view() re-reads it.
      const u8 = this.view();
      if (p + n > u8.length) return WasmResult.InvalidMemoryAccess;
      if (n <= SMALL_COPY) {
        for (let i = 0; i < n; i++) u8[p + i] = data[start + i];
      } else {
        u8.set(start === 0 && end === data.length ? data : data.subarray(start, end), p);
      }
    }
    if (!this.setU32(ptrPtr, p)) return WasmResult.InvalidMemoryAccess;
    if (!this.setU32(sizePtr, n)) return WasmResult.InvalidMemoryAccess;
    return WasmResult.Ok;
  }

  // ---------------------------------------------------------------- timers

  /** Wasm::setTimerPeriod: one timer per root context; 0 disables. Timers are unref'd. */
  setTimerPeriod(rootId: number, ms: number): void {
    const existing = this.timers.get(rootId);
    if (existing) clearInterval(existing);
    this.timers.delete(rootId);
    this.tickPeriods.set(rootId, ms);
    if (ms > 0 && !this.failed && this.host.timers !== false) {
      const t = setInterval(() => this.tick(rootId), ms);
      t.unref();
      this.timers.set(rootId, t);
    }
  }

  /** Wasm::tickHandler → ContextBase::onTick. */
  tick(rootId: number): void {
    const ctx = this.contexts.get(rootId);
    if (!ctx || this.failed || !(this.tickPeriods.get(rootId)! > 0)) return;
    this.invoke(ctx, "proxy_on_tick");
  }

  // ---------------------------------------------------------------- plugin shutdown

  /** Where the root context is in cpp-host's shutdown: root_contexts_, pending_done_, gone. */
  private rootState: "live" | "pending-done" | "deleting" | "deleted" = "live";
  private rootDeleted: (() => void) | undefined;
  /** Resolves once startShutdown deleted the root context (at once, or after proxy_done). */
  readonly rootGone = new Promise<void>((resolve) => (this.rootDeleted = resolve));

  /** The root context's on_done returned false and it has not called proxy_done yet. */
  get pendingDone(): boolean {
    return this.rootState === "pending-done";
  }

  /**
   * WasmBase::startShutdown(plugin key) (proxy-wasm-cpp-host src/wasm.cc), which Envoy runs when
   * the plugin goes (PluginHandleBase::~PluginHandleBase, include/proxy-wasm/wasm.h):
   * ContextBase::onDone for the root context (src/context.cc: on_done unless the VM failed);
   * true → ContextBase::onDelete at once (on_delete when the context was created and the VM has
   * not failed); false → the root context waits in pending_done_ until the module calls
   * proxy_done (done() below). Resolves `rootGone` when it was deleted.
   */
  startShutdown(): void {
    if (this.rootState !== "live") return;
    const root = this.rootContext;
    if (root === undefined || this.contexts.get(root.id) !== root) {
      this.markRootDeleted();
      return;
    }
    const finished = this.failed || !this.has("proxy_on_done") ? true : this.invoke(root, "proxy_on_done") !== 0;
    if (finished) this.deleteRoot(root);
    else this.rootState = "pending-done";
  }

  /**
   * proxy_done (WasmBase::done): NotFound unless shutdown left the root context pending; then
   * Ok, and its on_delete runs once the current VM call returned ("Defer the delete so that
   * onDelete is not called from within the done() handler").
   */
  done(): WasmResult {
    if (this.rootState !== "pending-done") return WasmResult.NotFound;
    this.rootState = "deleting";
    const root = this.rootContext;
    this.addAfterVmCallAction(() => this.deleteRoot(root));
    return WasmResult.Ok;
  }

  private deleteRoot(root: Context): void {
    if (root.inVmContextCreated && !this.failed) this.invoke(root, "proxy_on_delete");
    this.deleteContext(root);
    this.markRootDeleted();
  }

  private markRootDeleted(): void {
    this.rootState = "deleted";
    this.rootDeleted?.();
  }

  /** Stops timers and cancels outstanding calls (host.close()). */
  shutdown(): void {
    for (const t of this.timers.values()) clearInterval(t);
    this.timers.clear();
    for (const ctx of this.contexts.values()) ctx.cancelPendingCalls();
  }

  log(level: number, message: string, contextId: number): void {
    this.host.logs.add(level, message, this.plugin.name, this.index, contextId);
  }
}

/**
 * The VM's live contexts by id (cpp-host contexts_). Stream contexts are added and removed once
 * per connection, so this is an open-addressing table indexed by the id's low bits (ids are
 * sequential, so live ones rarely collide) instead of a Map, whose set + delete costs ~30 ns.
 * Id 0 (the VM context) is never stored and marks an empty slot.
 *
 * The same algorithm as the modules' table (assembly/runtime/table.ts): linear probing, growth at
 * 3/4 load, backward-shift deletion. Both pass assembly/runtime/__tests__/table-vectors.ts, slot
 * layout included (test/host/context-table.test.ts).
 */
export class ContextTable<V = Context> {
  private keys: Uint32Array;
  private vals: Array<V | undefined>;
  private mask: number;
  private count = 0;

  /** `capacity`: a power of two. */
  constructor(capacity = 16) {
    this.keys = new Uint32Array(capacity);
    this.vals = new Array<V | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.mask + 1;
  }

  /** The key in each slot (0 = empty): the layout, for the shared vectors. */
  slotKeys(): number[] {
    return Array.from(this.keys);
  }

  private slot(id: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = id & mask;
    for (;;) {
      const k = keys[i];
      if (k === id) return i;
      if (k === 0) return -1;
      i = (i + 1) & mask;
    }
  }

  get(id: number): V | undefined {
    if (id === 0) return undefined;
    const i = this.slot(id >>> 0);
    return i < 0 ? undefined : this.vals[i];
  }

  has(id: number): boolean {
    return id !== 0 && this.slot(id >>> 0) >= 0;
  }

  set(id: number, value: V): this {
    id >>>= 0;
    if (id === 0) throw new RangeError("context id 0 is the VM context");
    if (mustGrow(this.count, this.mask + 1)) this.grow();
    const keys = this.keys;
    const mask = this.mask;
    let i = id & mask;
    for (;;) {
      const k = keys[i];
      if (k === id) {
        this.vals[i] = value;
        return this;
      }
      if (k === 0) break;
      i = (i + 1) & mask;
    }
    keys[i] = id;
    this.vals[i] = value;
    this.count++;
    return this;
  }

  /** Backward-shift deletion: no tombstones, so lookups stay short however many ids passed. */
  delete(id: number): boolean {
    if (id === 0) return false;
    let hole = this.slot(id >>> 0);
    if (hole < 0) return false;
    const keys = this.keys;
    const vals = this.vals;
    const mask = this.mask;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j];
      if (k === 0) break;
      if (!homeBetween(k & mask, hole, j)) {
        keys[hole] = k;
        vals[hole] = vals[j];
        hole = j;
      }
    }
    keys[hole] = 0;
    vals[hole] = undefined;
    this.count--;
    return true;
  }

  *values(): IterableIterator<V> {
    const vals = this.vals;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v !== undefined) yield v;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const cap = (this.mask + 1) * 2;
    this.keys = new Uint32Array(cap);
    this.vals = new Array<V | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
    this.count = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i] !== 0) this.set(oldKeys[i], oldVals[i]!);
  }
}

/** Whether one more entry would load the table past 3/4 (table.ts mustGrow). */
function mustGrow(count: number, capacity: number): boolean {
  return (count + 1) * 4 > capacity * 3;
}

/** Whether `home` lies cyclically in (hole, j]: that entry must stay behind the hole (table.ts homeBetween). */
function homeBetween(home: number, hole: number, j: number): boolean {
  return hole <= j ? home > hole && home <= j : home > hole || home <= j;
}

interface KeyCacheEntry {
  readonly bytes: Uint8Array;
  /** The same bytes, read 4 at a time when comparing. */
  readonly words: DataView;
  readonly str: string;
}

/** Copies up to this many bytes with a loop rather than slice()/set() (fixed cost ~20 ns). */
const SMALL_COPY = 12;

/** key() caches names up to this size, and this many of them per VM (then starts over). */
const KEY_CACHE_MAX_BYTES = 128;
const KEY_CACHE_MAX_ENTRIES = 256;

/**
 * UTF-8 → string. Short ASCII (every name and most values modules pass) is built directly,
 * which skips a Buffer wrapper per call; anything else decodes as before (Buffer#toString,
 * invalid sequences replaced by U+FFFD).
 */
function decodeUtf8(u8: Uint8Array, ptr: number, size: number): string {
  if (size <= 64) {
    let ascii = true;
    for (let i = 0; i < size; i++) {
      if (u8[ptr + i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, u8.subarray(ptr, ptr + size) as unknown as number[]);
  }
  return Buffer.from(u8.buffer, u8.byteOffset + ptr, size).toString("utf8");
}

export function errorText(err: unknown): string {
  if (err instanceof ProcExit) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
