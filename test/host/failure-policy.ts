/**
 * What Envoy does with a plugin whose VM has failed, decided from the same PluginConfig fields
 * Envoy reads (api/envoy/extensions/wasm/v3/wasm.proto: `fail_open = 5` deprecated,
 * `failure_policy = 7`, `reload_config = 8`). Two readers, two fields:
 *
 * - Envoy's PluginConfig (source/extensions/common/wasm/wasm.cc, PluginConfig::PluginConfig)
 *   resolves one policy: `fail_open: true` → FAIL_OPEN (with `failure_policy` also set: the config
 *   is rejected, "only one of fail_open or failure_policy can be set"); else `failure_policy`, with
 *   UNSPECIFIED → FAIL_CLOSED. createContext uses it for each new connection: failed VM + FAIL_OPEN
 *   → no filter; otherwise a context that fails the stream. FAIL_RELOAD first tries a fresh VM
 *   (maybeReloadHandleIfNeeded, only for FailState::RuntimeError), at most once per backoff.
 * - proxy-wasm-cpp-host's CHECK_FAIL (src/context.cc), run before and after every callback of a
 *   connection that already has a context, reads PluginBase::fail_open_, which Envoy's Plugin sets
 *   from `config.fail_open()` alone (source/extensions/common/wasm/plugin.h). So with
 *   `failure_policy: FAIL_OPEN` the connection whose callback trapped, and every other connection
 *   already on that VM, is closed; only later connections skip the filter.
 */

export const FAILURE_POLICIES = ["UNSPECIFIED", "FAIL_RELOAD", "FAIL_CLOSED", "FAIL_OPEN"] as const;
/** PluginConfig.failure_policy as configured. */
export type FailurePolicyName = (typeof FAILURE_POLICIES)[number];
/** The policy Envoy's PluginConfig settles on. */
export type EffectiveFailurePolicy = Exclude<FailurePolicyName, "UNSPECIFIED">;

/** ReloadConfig.backoff.base_interval when unset (PROTOBUF_GET_MS_OR_DEFAULT(…, base_interval, 1000)). */
export const DEFAULT_RELOAD_BASE_INTERVAL_MS = 1000;

/** PluginConfig::PluginConfig: the one policy, or an error naming the conflict (Envoy: EnvoyException). */
export function effectiveFailurePolicy(failOpen: boolean, policy: FailurePolicyName): EffectiveFailurePolicy {
  if (!(FAILURE_POLICIES as readonly string[]).includes(policy)) {
    throw new Error(`unknown failure policy ${JSON.stringify(policy)}; expected one of ${FAILURE_POLICIES.join(", ")}`);
  }
  if (failOpen) {
    if (policy !== "UNSPECIFIED") throw new Error("only one of fail_open or failure_policy can be set");
    return "FAIL_OPEN";
  }
  return policy === "UNSPECIFIED" ? "FAIL_CLOSED" : policy;
}

/**
 * JitteredLowerBoundBackOffStrategy::nextBackOffMs (source/common/common/backoff_strategy.cc):
 * `random % (base >> 1) + base`, a fresh draw per call, i.e. in [base, 1.5 base). Envoy asserts
 * base > 1.
 */
export function reloadBackoffMs(baseMs: number, random: () => number): number {
  if (!Number.isInteger(baseMs) || baseMs < 2) throw new Error(`reload backoff base interval ${baseMs} ms must be an integer >= 2`);
  return (random() % (baseMs >>> 1)) + baseMs;
}

/** The emulator's loadPlugin options for a rendered PluginConfig (its protobuf JSON). */
export interface PluginFailureOptions {
  readonly failOpen: boolean;
  readonly failurePolicy: FailurePolicyName;
  readonly reloadBaseIntervalMs: number;
}

/** A protobuf JSON duration ("1s", "0.250s") in whole milliseconds. */
function durationMs(value: unknown, field: string): number {
  const m = typeof value === "string" ? /^(\d+)(?:\.(\d{1,9}))?s$/.exec(value) : null;
  if (m === null) throw new Error(`${field}: ${JSON.stringify(value)} is not a protobuf JSON duration such as "1s"`);
  return Number(m[1]) * 1000 + Math.floor(Number(`0.${m[2] ?? "0"}`) * 1000);
}

/**
 * Reads `fail_open`, `failure_policy` and `reload_config` from a rendered
 * envoy.extensions.wasm.v3.PluginConfig (the `config` of a wasm network filter), so the emulator
 * runs what the YAML says.
 */
export function pluginFailureOptions(config: Readonly<Record<string, unknown>>): PluginFailureOptions {
  const failOpen = config.fail_open === true;
  const policy = (config.failure_policy ?? "UNSPECIFIED") as FailurePolicyName;
  effectiveFailurePolicy(failOpen, policy);
  const backoff = (config.reload_config as { backoff?: { base_interval?: unknown } } | undefined)?.backoff;
  const reloadBaseIntervalMs =
    backoff?.base_interval === undefined ? DEFAULT_RELOAD_BASE_INTERVAL_MS : durationMs(backoff.base_interval, "reload_config.backoff.base_interval");
  return { failOpen, failurePolicy: policy, reloadBaseIntervalMs };
}
