// The module's exports for proxy-wasm ABI 0.2.1. A filter's index.ts re-exports them:
//   export * from "../../runtime/exports";
// Callback signatures: proxy-wasm/spec abi-versions/v0.2.1/README.md. Booleans arrive as i32
// words, so they are compared with 0 rather than trusted to be 0/1.
//
// Each callback is a table lookup (an address, see table.ts) plus one virtual call; the
// address-to-object cast keeps GC bookkeeping off the data path. Unknown ids answer like a
// filter that does nothing.
import { Action, PeerType } from "./enums";
import {
  BaseContext, Context, RootContext, anyContext, createRootContext, createStreamContext, removeContext, roots,
  rootContext, streamContext, streams,
} from "./context";
import "./abort";
import * as host from "./hostcalls";
import { enter, leave, leaveConfiguring } from "./gc";
import { AL_MASK, BLOCK_MAXSIZE } from "rt/common";

/** Marker the host looks for; never called. */
export function proxy_abi_version_0_2_1(): void {}

/**
 * The host allocates through this before copying data in. The memory is outside the GC heap
 * (heap.alloc); hostcalls.ts frees it after copying it into an ArrayBuffer. The exception is
 * getBufferBytesInto's landing place (hostcalls.ts takeLanding): the caller's own buffer.
 *
 * A size the allocator cannot hold answers 0: heap.alloc would abort ("Allocation too large"),
 * which ends the VM, while proxy-wasm-cpp-host treats a 0 from malloc as a failed copy and the
 * host call fails (include/proxy-wasm/wasm.h WasmBase::allocMemory, copyToPointerSize).
 */
export function malloc(size: usize): usize {
  // getBufferBytesInto's destination, offered for this one allocation (see landingPtr).
  const landing = host.takeLanding(size);
  if (landing != 0) return landing;
  if (size > BLOCK_MAXSIZE) return 0;
  return heap.alloc(size);
}

/**
 * Releases a block `malloc` returned. proxy-wasm-cpp-host never calls it (the module frees what
 * the host copied in, hostcalls.ts). It is exported for WAMR (`envoy.wasm.runtime.wamr`): a
 * module that exports `malloc` but no `free` gets a WAMR-managed app heap inserted into its
 * linear memory at instantiation, in pages the AssemblyScript allocator also hands out; with
 * both exported WAMR inserts none and routes its own module_malloc/module_free through these
 * two (docs/adr/0005-wamr-app-heap.md; WAMR core/iwasm/interpreter/wasm_loader.c and
 * wasm_runtime.c memory_instantiate).
 *
 * 0 (C's free(NULL)) and a pointer not aligned like a heap.alloc payload are not blocks of ours
 * and are ignored, so a stray call cannot corrupt the heap.
 */
export function free(ptr: usize): void {
  if (ptr == 0 || (ptr & AL_MASK) != 0) return;
  heap.free(ptr);
}

export function proxy_on_context_create(context_id: u32, parent_context_id: u32): void {
  enter();
  if (parent_context_id == 0) createRootContext(context_id);
  else createStreamContext(context_id, parent_context_id);
  leave();
}

export function proxy_on_vm_start(root_context_id: u32, vm_configuration_size: u32): bool {
  enter();
  const r = rootContext(root_context_id);
  const result = r == 0 ? false : changetype<RootContext>(r).onVmStart(vm_configuration_size);
  leaveConfiguring();
  return result;
}

export function proxy_on_configure(root_context_id: u32, plugin_configuration_size: u32): bool {
  enter();
  const r = rootContext(root_context_id);
  const result = r == 0 ? false : changetype<RootContext>(r).onConfigure(plugin_configuration_size);
  leaveConfiguring();
  return result;
}

export function proxy_on_tick(root_context_id: u32): void {
  enter();
  const r = rootContext(root_context_id);
  if (r != 0) changetype<RootContext>(r).onTick();
  leave();
}

export function proxy_on_queue_ready(root_context_id: u32, queue_id: u32): void {
  enter();
  const r = rootContext(root_context_id);
  if (r != 0) changetype<RootContext>(r).onQueueReady(queue_id);
  leave();
}

export function proxy_on_foreign_function(root_context_id: u32, function_id: u32, data_size: u32): void {
  enter();
  const r = rootContext(root_context_id);
  if (r != 0) changetype<RootContext>(r).onForeignFunction(function_id, data_size);
  leave();
}

// ---- network filter --------------------------------------------------------------------------

export function proxy_on_new_connection(context_id: u32): u32 {
  enter();
  const c = streamContext(context_id);
  const result = c == 0 ? Action.Continue : changetype<Context>(c).onNewConnection();
  leave();
  return result;
}

export function proxy_on_downstream_data(context_id: u32, data_size: u32, end_of_stream: u32): u32 {
  enter();
  const c = streamContext(context_id);
  const result = c == 0 ? Action.Continue : changetype<Context>(c).onDownstreamData(data_size, end_of_stream != 0);
  leave();
  return result;
}

export function proxy_on_upstream_data(context_id: u32, data_size: u32, end_of_stream: u32): u32 {
  enter();
  const c = streamContext(context_id);
  const result = c == 0 ? Action.Continue : changetype<Context>(c).onUpstreamData(data_size, end_of_stream != 0);
  leave();
  return result;
}

export function proxy_on_downstream_connection_close(context_id: u32, peer_type: u32): void {
  enter();
  const c = streamContext(context_id);
  if (c != 0) changetype<Context>(c).onDownstreamConnectionClose(<PeerType>peer_type);
  leave();
}

export function proxy_on_upstream_connection_close(context_id: u32, peer_type: u32): void {
  enter();
  const c = streamContext(context_id);
  if (c != 0) changetype<Context>(c).onUpstreamConnectionClose(<PeerType>peer_type);
  leave();
}

// ---- HTTP filter -----------------------------------------------------------------------------

export function proxy_on_request_headers(context_id: u32, num_headers: u32, end_of_stream: u32): u32 {
  enter();
  const c = streamContext(context_id);
  const result = c == 0 ? Action.Continue : changetype<Context>(c).onRequestHeaders(num_headers, end_of_stream != 0);
  leave();
  return result;
}

export function proxy_on_request_body(context_id: u32, body_size: u32, end_of_stream: u32): u32 {
  enter();
  const c = streamContext(context_id);
  const result = c == 0 ? Action.Continue : changetype<Context>(c).onRequestBody(body_size, end_of_stream != 0);
  leave();
  return result;
}

export function proxy_on_request_trailers(context_id: u32, num_trailers: u32): u32 {
  enter();
  const c = streamContext(context_id);
  const result = c == 0 ? Action.Continue : changetype<Context>(c).onRequestTrailers(num_trailers);
  leave();
  return result;
}

export function proxy_on_response_headers(context_id: u32, num_headers: u32, end_of_stream: u32): u32 {
  enter();
  const c = streamContext(context_id);
  const result = c == 0 ? Action.Continue : changetype<Context>(c).onResponseHeaders(num_headers, end_of_stream != 0);
  leave();
  return result;
}

export function proxy_on_response_body(context_id: u32, body_size: u32, end_of_stream: u32): u32 {
  enter();
  const c = streamContext(context_id);
  const result = c == 0 ? Action.Continue : changetype<Context>(c).onResponseBody(body_size, end_of_stream != 0);
  leave();
  return result;
}

export function proxy_on_response_trailers(context_id: u32, num_trailers: u32): u32 {
  enter();
  const c = streamContext(context_id);
  const result = c == 0 ? Action.Continue : changetype<Context>(c).onResponseTrailers(num_trailers);
  leave();
  return result;
}

// ---- lifecycle -------------------------------------------------------------------------------

export function proxy_on_done(context_id: u32): bool {
  enter();
  const c = anyContext(context_id);
  const result = c == 0 ? true : changetype<BaseContext>(c).onDone();
  leave();
  return result;
}

export function proxy_on_log(context_id: u32): void {
  enter();
  const c = anyContext(context_id);
  if (c != 0) changetype<BaseContext>(c).onLog();
  leave();
}

export function proxy_on_delete(context_id: u32): void {
  enter();
  const s = streamContext(context_id);
  if (s != 0) {
    changetype<BaseContext>(s).onDelete();
    removeContext(streams, context_id);
  } else {
    const r = rootContext(context_id);
    if (r != 0) {
      changetype<BaseContext>(r).onDelete();
      removeContext(roots, context_id);
    }
  }
  leave();
}

// ---- call responses --------------------------------------------------------------------------

export function proxy_on_http_call_response(
  context_id: u32, token: u32, num_headers: u32, body_size: u32, num_trailers: u32,
): void {
  enter();
  const c = anyContext(context_id);
  if (c != 0) changetype<BaseContext>(c).onHttpCallResponse(token, num_headers, body_size, num_trailers);
  leave();
}

export function proxy_on_grpc_receive_initial_metadata(context_id: u32, token: u32, num_headers: u32): void {
  enter();
  const c = anyContext(context_id);
  if (c != 0) changetype<BaseContext>(c).onGrpcReceiveInitialMetadata(token, num_headers);
  leave();
}

export function proxy_on_grpc_receive(context_id: u32, token: u32, response_size: u32): void {
  enter();
  const c = anyContext(context_id);
  if (c != 0) changetype<BaseContext>(c).onGrpcReceive(token, response_size);
  leave();
}

export function proxy_on_grpc_receive_trailing_metadata(context_id: u32, token: u32, num_trailers: u32): void {
  enter();
  const c = anyContext(context_id);
  if (c != 0) changetype<BaseContext>(c).onGrpcReceiveTrailingMetadata(token, num_trailers);
  leave();
}

export function proxy_on_grpc_close(context_id: u32, token: u32, status_code: u32): void {
  enter();
  const c = anyContext(context_id);
  if (c != 0) changetype<BaseContext>(c).onGrpcClose(token, status_code);
  leave();
}
