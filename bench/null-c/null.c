/*
 * null-c: a proxy-wasm ABI 0.2.1 network + HTTP filter that does nothing, in plain C with no
 * libc. It is the floor of the benchmark: whatever our AssemblyScript ABI layer costs on top of
 * a callback is measured against this module, run through the same host in the same process.
 *
 * Build (scripts/build.mjs does this into build/fixtures/null-c.wasm):
 *   clang --target=wasm32 -nostdlib -O3 -Wl,--no-entry -Wl,--export-dynamic \
 *         -Wl,--allow-undefined -o null-c.wasm null.c
 *
 * The exported callback set is the one proxy-wasm-cpp-host looks up for ABI 0.2.x
 * (include/proxy-wasm/wasm.h FOR_ALL_MODULE_FUNCTIONS plus the 0.2 on_request_headers /
 * on_response_headers / on_foreign_function in src/wasm.cc getFunctions), with the arities of
 * its WasmCallWord<N> / WasmCallVoid<N> members.
 */

typedef unsigned int u32;
typedef unsigned long size_t; /* wasm32: 32 bits */

#define EXPORT(name) __attribute__((export_name(#name), visibility("default")))

enum { Continue = 0 };
enum { True = 1 };

/* ---- memory: bump allocation over memory.grow, freed blocks kept on one first-fit list ---- */

extern unsigned char __heap_base;

typedef struct Block {
  size_t size;        /* usable bytes after the header */
  struct Block *next; /* only meaningful while on the free list */
} Block;

#define HEADER ((size_t)sizeof(Block))
#define ALIGN 16u
#define PAGE 65536u

static unsigned char *heap_top;
static Block *free_list;

static size_t round_up(size_t n) { return (n + (ALIGN - 1)) & ~(size_t)(ALIGN - 1); }

static int ensure(unsigned char *end) {
  size_t have = __builtin_wasm_memory_size(0) * PAGE;
  if ((size_t)end <= have) return 1;
  size_t need = ((size_t)end - have + PAGE - 1) / PAGE;
  return __builtin_wasm_memory_grow(0, need) != (size_t)-1;
}

EXPORT(malloc) void *malloc(size_t size) {
  size_t want = round_up(size == 0 ? 1 : size);
  Block **link = &free_list;
  for (Block *b = free_list; b; link = &b->next, b = b->next) {
    if (b->size >= want) {
      *link = b->next;
      return (unsigned char *)b + HEADER;
    }
  }
  if (!heap_top) heap_top = (unsigned char *)round_up((size_t)&__heap_base);
  unsigned char *start = heap_top;
  unsigned char *end = start + HEADER + want;
  /* wasm32 addresses wrap at 4 GiB: refuse instead of handing out a wrapped pointer. */
  if (end < start || !ensure(end)) return 0;
  heap_top = end;
  Block *b = (Block *)start;
  b->size = want;
  b->next = 0;
  return start + HEADER;
}

EXPORT(free) void free(void *p) {
  if (!p) return;
  Block *b = (Block *)((unsigned char *)p - HEADER);
  b->next = free_list;
  free_list = b;
}

/* ---- integration ---- */

EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void) {}

/* ---- root context ---- */

EXPORT(proxy_on_context_create) void proxy_on_context_create(u32 context_id, u32 parent_id) {}
EXPORT(proxy_validate_configuration) u32 proxy_validate_configuration(u32 root_id, u32 size) { return True; }
EXPORT(proxy_on_vm_start) u32 proxy_on_vm_start(u32 root_id, u32 vm_configuration_size) { return True; }
EXPORT(proxy_on_configure) u32 proxy_on_configure(u32 root_id, u32 plugin_configuration_size) { return True; }
EXPORT(proxy_on_tick) void proxy_on_tick(u32 root_id) {}
EXPORT(proxy_on_queue_ready) void proxy_on_queue_ready(u32 root_id, u32 token) {}
EXPORT(proxy_on_foreign_function) void proxy_on_foreign_function(u32 root_id, u32 function_id, u32 size) {}

/* ---- context end ---- */

EXPORT(proxy_on_done) u32 proxy_on_done(u32 context_id) { return True; }
EXPORT(proxy_on_log) void proxy_on_log(u32 context_id) {}
EXPORT(proxy_on_delete) void proxy_on_delete(u32 context_id) {}

/* ---- network filter ---- */

EXPORT(proxy_on_new_connection) u32 proxy_on_new_connection(u32 context_id) { return Continue; }
EXPORT(proxy_on_downstream_data) u32 proxy_on_downstream_data(u32 context_id, u32 size, u32 eos) { return Continue; }
EXPORT(proxy_on_upstream_data) u32 proxy_on_upstream_data(u32 context_id, u32 size, u32 eos) { return Continue; }
EXPORT(proxy_on_downstream_connection_close) void proxy_on_downstream_connection_close(u32 context_id, u32 peer) {}
EXPORT(proxy_on_upstream_connection_close) void proxy_on_upstream_connection_close(u32 context_id, u32 peer) {}

/* ---- HTTP filter ---- */

EXPORT(proxy_on_request_headers) u32 proxy_on_request_headers(u32 context_id, u32 headers, u32 eos) { return Continue; }
EXPORT(proxy_on_request_body) u32 proxy_on_request_body(u32 context_id, u32 size, u32 eos) { return Continue; }
EXPORT(proxy_on_request_trailers) u32 proxy_on_request_trailers(u32 context_id, u32 trailers) { return Continue; }
EXPORT(proxy_on_request_metadata) u32 proxy_on_request_metadata(u32 context_id, u32 elements) { return Continue; }
EXPORT(proxy_on_response_headers) u32 proxy_on_response_headers(u32 context_id, u32 headers, u32 eos) { return Continue; }
EXPORT(proxy_on_response_body) u32 proxy_on_response_body(u32 context_id, u32 size, u32 eos) { return Continue; }
EXPORT(proxy_on_response_trailers) u32 proxy_on_response_trailers(u32 context_id, u32 trailers) { return Continue; }
EXPORT(proxy_on_response_metadata) u32 proxy_on_response_metadata(u32 context_id, u32 elements) { return Continue; }

/* ---- asynchronous results (HTTP / gRPC callouts) ---- */

EXPORT(proxy_on_http_call_response) void proxy_on_http_call_response(u32 context_id, u32 token, u32 headers, u32 body_size, u32 trailers) {}
EXPORT(proxy_on_grpc_receive_initial_metadata) void proxy_on_grpc_receive_initial_metadata(u32 context_id, u32 token, u32 headers) {}
EXPORT(proxy_on_grpc_receive) void proxy_on_grpc_receive(u32 context_id, u32 token, u32 response_size) {}
EXPORT(proxy_on_grpc_receive_trailing_metadata) void proxy_on_grpc_receive_trailing_metadata(u32 context_id, u32 token, u32 trailers) {}
EXPORT(proxy_on_grpc_close) void proxy_on_grpc_close(u32 context_id, u32 token, u32 status_code) {}
