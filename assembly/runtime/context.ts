// Root and stream contexts. Names follow @solo-io/proxy-runtime so its users feel at home:
// registerRootContext(factory, root_id), RootContext.createContext(context_id), on* callbacks.
import { Action, PeerType, WasmResult } from "./enums";
import { tableDelete, tableGet, tableNew, tableSet } from "./table";
import * as host from "./hostcalls";

/** Callbacks every context may receive. */
export class BaseContext {
  /** Set by retain(): the runtime keeps the object pinned after proxy_on_delete. */
  private retained: bool = false;

  constructor(public context_id: u32) {}

  /**
   * For a filter that reuses its contexts (a pool its createContext takes from): called in
   * onDelete, it keeps this object pinned when the runtime removes it from its table, so the
   * pool may hold it by address only and the collector still keeps it. When createContext
   * returns it for a new id, the runtime stores it without pinning it again (keep). A retained
   * context that will not be returned again must be released.
   */
  retain(): void {
    this.retained = true;
  }

  /** Undoes retain() for a context that is no longer in the runtime's table: lets it go. */
  release(): void {
    if (!this.retained) return;
    this.retained = false;
    __unpin(changetype<usize>(this));
  }

  /**
   * Whether the runtime's table lets go of this object when it removes it (removeContext): not
   * after retain(). Called by the runtime only.
   */
  @inline unpinnedOnRemove(): bool {
    return !this.retained;
  }

  /**
   * Ends a retention when the object is stored again (keep): true when it was retained, i.e.
   * still pinned. Called by the runtime only.
   */
  @inline takeRetained(): bool {
    const r = this.retained;
    this.retained = false;
    return r;
  }

  /** Return false to keep the context until `done()` is called. */
  onDone(): bool {
    return true;
  }
  onLog(): void {}
  onDelete(): void {}

  // Envoy delivers call results to the root context that made the call (proxy-wasm-cpp-host
  // src/exports.cc: http_call and grpc_call run on `root_context()`).
  onHttpCallResponse(token: u32, num_headers: u32, body_size: u32, num_trailers: u32): void {}
  onGrpcReceiveInitialMetadata(token: u32, num_headers: u32): void {}
  onGrpcReceive(token: u32, response_size: u32): void {}
  onGrpcReceiveTrailingMetadata(token: u32, num_trailers: u32): void {}
  onGrpcClose(token: u32, status_code: u32): void {}

  /** Makes this context the one later host calls act on (e.g. from a call response). */
  setEffectiveContext(): WasmResult {
    return host.setEffectiveContext(this.context_id);
  }
}

/** The plugin context: one per plugin per VM. */
export class RootContext extends BaseContext {
  /** The root id this context was registered for. */
  root_id: string = "";

  onVmStart(vm_configuration_size: u32): bool {
    return true;
  }
  onConfigure(configuration_size: u32): bool {
    return true;
  }
  onTick(): void {}
  onQueueReady(queue_id: u32): void {}
  onForeignFunction(function_id: u32, data_size: u32): void {}

  /** Makes the stream context for a new connection or HTTP stream. */
  createContext(context_id: u32): Context {
    return new Context(context_id, this);
  }

  /** The plugin configuration; readable only inside onConfigure in Envoy. */
  getConfiguration(): host.BytesResult {
    return host.getPluginConfiguration();
  }
}

/** A stream context: one per connection (network filter) or HTTP stream. */
export class Context extends BaseContext {
  constructor(context_id: u32, public root: RootContext) {
    super(context_id);
  }

  onNewConnection(): Action {
    return Action.Continue;
  }
  onDownstreamData(data_size: u32, end_of_stream: bool): Action {
    return Action.Continue;
  }
  onUpstreamData(data_size: u32, end_of_stream: bool): Action {
    return Action.Continue;
  }
  onDownstreamConnectionClose(peer: PeerType): void {}
  onUpstreamConnectionClose(peer: PeerType): void {}

  onRequestHeaders(num_headers: u32, end_of_stream: bool): Action {
    return Action.Continue;
  }
  onRequestBody(body_size: u32, end_of_stream: bool): Action {
    return Action.Continue;
  }
  onRequestTrailers(num_trailers: u32): Action {
    return Action.Continue;
  }
  onResponseHeaders(num_headers: u32, end_of_stream: bool): Action {
    return Action.Continue;
  }
  onResponseBody(body_size: u32, end_of_stream: bool): Action {
    return Action.Continue;
  }
  onResponseTrailers(num_trailers: u32): Action {
    return Action.Continue;
  }
}

export type RootFactory = (context_id: u32) => RootContext;

const factoryIds = new Array<string>();
const factories = new Array<RootFactory>();

/** Registers the root context factory for `root_id` (Envoy's plugin root_id). */
export function registerRootContext(factory: RootFactory, root_id: string): void {
  for (let i = 0; i < factoryIds.length; i++) {
    if (factoryIds[i] == root_id) {
      factories[i] = factory;
      return;
    }
  }
  factoryIds.push(root_id);
  factories.push(factory);
}

// Contexts by id. The tables hold addresses; every stored context is pinned (__pin) so the
// collector keeps it, and unpinned when it is removed, unless the filter retained it for reuse
// (BaseContext.retain): then it stays pinned until it is stored again or released.
export const roots: usize = tableNew(8);
export const streams: usize = tableNew(64);

// @ts-ignore: decorator
@inline export function streamContext(context_id: u32): usize {
  return tableGet(streams, context_id);
}

// @ts-ignore: decorator
@inline export function rootContext(context_id: u32): usize {
  return tableGet(roots, context_id);
}

function keep(table: usize, context_id: u32, ctx: BaseContext): void {
  const p = changetype<usize>(ctx);
  // A context retained by its filter's pool is still pinned from its previous connection.
  if (!ctx.takeRetained()) __pin(p);
  const old = tableSet(table, context_id, p);
  if (old != 0 && old != p) letGo(old);
}

/** Removes the context from `table` and lets the collector have it (unless it was retained). */
export function removeContext(table: usize, context_id: u32): void {
  const old = tableDelete(table, context_id);
  if (old != 0) letGo(old);
}

function letGo(p: usize): void {
  if (changetype<BaseContext>(p).unpinnedOnRemove()) __unpin(p);
}

function pickFactory(): i32 {
  const n = factories.length;
  if (n == 0) return -1;
  // One registration needs no host call; with several, the host's plugin_root_id decides.
  if (n == 1) return 0;
  const r = host.getProperty(["plugin_root_id"]);
  const id = r.ok ? r.text() : "";
  let fallback = -1;
  for (let i = 0; i < n; i++) {
    if (factoryIds[i] == id) return i;
    if (factoryIds[i] == "") fallback = i;
  }
  if (fallback < 0) {
    host.logError("proxy-wasm runtime: no root context registered for root_id \"" + id + "\"");
  }
  return fallback;
}

/**
 * The root context for `context_id`, made on its first proxy_on_context_create. proxy-wasm-cpp-host
 * starts a root context again when a plugin with the same key is loaded on a VM that still has
 * it (src/wasm.cc WasmBase::start → src/context.cc ContextBase::onStart: on_context_create(root,
 * 0), on_vm_start, then on_configure): the existing object answers, so the state its stream
 * contexts share (timers, pending work, pools) survives.
 */
export function createRootContext(context_id: u32): RootContext {
  const existing = rootContext(context_id);
  if (existing != 0) return changetype<RootContext>(existing);
  const i = pickFactory();
  let root: RootContext;
  if (i < 0) {
    root = new RootContext(context_id);
  } else {
    root = factories[i](context_id);
    root.root_id = factoryIds[i];
  }
  keep(roots, context_id, root);
  return root;
}

export function createStreamContext(context_id: u32, parent_id: u32): void {
  const rp = rootContext(parent_id);
  if (rp == 0) {
    host.logError("proxy-wasm runtime: stream context " + context_id.toString() +
      " has unknown root context " + parent_id.toString());
    return;
  }
  keep(streams, context_id, changetype<RootContext>(rp).createContext(context_id));
}

/** Address of the stream context (the common case) or else the root context; 0 when neither. */
// @ts-ignore: decorator
@inline export function anyContext(context_id: u32): usize {
  const s = tableGet(streams, context_id);
  return s != 0 ? s : tableGet(roots, context_id);
}
