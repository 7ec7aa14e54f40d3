/**
 * EnvoyFilter `match.proxy.proxyVersion` guards for patches that carry Envoy fields newer than
 * some proxies connected to istiod.
 *
 * Why a guard and not "the old proxy rejects it": neither side rejects an unknown field.
 * - istiod builds patch values non-strictly ("Use non-strict building to avoid issues where
 *   EnvoyFilter is valid but meant for a different version of the API", istio/istio
 *   pilot/pkg/model/envoyfilter.go, convertToEnvoyFilterWrapper → xds.BuildXDSObjectFromStruct(…,
 *   false)); its validation webhook only warns on unknown fields
 *   (pkg/config/validation/envoyfilter/envoyfilter.go).
 * - Envoy validates dynamic (xDS) configuration with a warning visitor unless started with
 *   `--reject-unknown-dynamic-fields` (envoy source/common/protobuf/message_validator_impl.h,
 *   ProdValidationContextImpl; source/server/options_impl.cc, default false), which pilot-agent
 *   does not pass (istio/istio pkg/envoy/proxy.go passes only --allow-unknown-static-fields).
 *   The unknown field is logged ("Unknown field: …") and dropped.
 * So an older proxy would silently run half a configuration (e.g. the sniffer in mode route without
 * tcp_proxy's early reads: every connection hangs). The guard makes istiod skip the whole
 * EnvoyFilter for such a proxy instead: istiod matches the regex against the proxy's ISTIO_VERSION
 * (pilot/pkg/model/envoyfilter.go, proxyMatch; an empty version never matches).
 */

/**
 * Envoy fields the controller may render that Envoy gained after some Istio release we still meet
 * in a mesh, with the Envoy minor version that added them. Keyed by `<type URL>#<field>`.
 */
export const NEWER_ENVOY_FIELDS: Readonly<Record<string, { readonly envoyMinor: number; readonly source: string }>> = {
  // envoy PR #41696: tcp_proxy upstream_connect_mode = 21, max_early_data_bytes = 22 (Envoy 1.37).
  "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy#upstream_connect_mode": { envoyMinor: 37, source: "envoy#41696" },
  "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy#max_early_data_bytes": { envoyMinor: 37, source: "envoy#41696" },
  // envoy PR #36456 (api/envoy/extensions/wasm/v3/wasm.proto failure_policy = 7, reload_config = 8):
  // first released in Envoy 1.33. Nested in PluginConfig, i.e. under Wasm.config.
  "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm#config.failure_policy": { envoyMinor: 33, source: "envoy#36456" },
  "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm#config.reload_config": { envoyMinor: 33, source: "envoy#36456" },
};

/**
 * Istio 1.N ships Envoy 1.(N+8): istio/proxy ENVOY_VERSION.txt is 1.36 / 1.37 / 1.38 / 1.39 on
 * release-1.28 / 1.29 / 1.30 / 1.31; older releases followed the same step.
 */
export function istioMinorForEnvoyMinor(envoyMinor: number): number {
  return envoyMinor - 8;
}

/** Digits above `d` (0-9) as a regex class, or undefined when there are none. */
function above(d: number): string | undefined {
  if (d >= 9) return undefined;
  return d + 1 === 9 ? "9" : `[${d + 1}-9]`;
}

/**
 * A Go RE2 (and JavaScript) regex matching ISTIO_VERSION strings of Istio >= 1.<minor>:
 * "1.29.0", "1.29.6", "1.29-dev", "1.30.0-beta.1", "1.31-alpha.<sha>", "1.100.0", "2.0.0";
 * not "1.28.9", "1.2.9", "1.290" style prefixes of smaller minors, nor "".
 */
export function istioAtLeast(minor: number): string {
  if (!Number.isInteger(minor) || minor < 10 || minor > 99) {
    throw new Error(`istioAtLeast: minor ${minor} must be a two-digit Istio minor version (10..99)`);
  }
  const tens = Math.floor(minor / 10);
  const ones = minor % 10;
  const alternatives = [String(minor)];
  const sameTens = above(ones);
  if (sameTens !== undefined) alternatives.push(`${tens}${sameTens}`);
  const higherTens = above(tens);
  if (higherTens !== undefined) alternatives.push(`${higherTens}[0-9]`);
  alternatives.push("[1-9][0-9]{2,}");
  // The minor ends at the end, a '.', or a '-' pre-release/dev suffix ("1.29-dev").
  return `^(1\\.(${alternatives.join("|")})([.-].*)?|([2-9]|[1-9][0-9]+)\\.[0-9]+([.-].*)?)$`;
}

/** Istio releases that ship Envoy >= 1.37 (upstream_connect_mode, max_early_data_bytes). */
export const ISTIO_1_29_OR_LATER = istioAtLeast(istioMinorForEnvoyMinor(37));

function get(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** The highest Envoy minor version any typed object inside `value` needs (0: none of NEWER_ENVOY_FIELDS). */
export function requiredEnvoyMinor(value: unknown): number {
  let needed = 0;
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const item of v) visit(item);
      return;
    }
    if (v === null || typeof v !== "object") return;
    const obj = v as Record<string, unknown>;
    const type = obj["@type"];
    if (typeof type === "string") {
      for (const [key, field] of Object.entries(NEWER_ENVOY_FIELDS)) {
        const [url, path] = key.split("#") as [string, string];
        if (url === type && get(obj, path.split(".")) !== undefined) needed = Math.max(needed, field.envoyMinor);
      }
    }
    for (const child of Object.values(obj)) visit(child);
  };
  visit(value);
  return needed;
}

/**
 * Returns the patches with one proxyVersion guard on every patch when any of them carries a field
 * from NEWER_ENVOY_FIELDS. The patches of one EnvoyFilter work together (the sniffer's insert and
 * its tcp_proxy MERGE), so an older proxy gets none of them rather than some.
 */
export function guardProxyVersion<T extends Record<string, unknown>>(patches: readonly T[]): T[] {
  const minor = Math.max(0, ...patches.map((p) => requiredEnvoyMinor((p.patch as Record<string, unknown> | undefined)?.value)));
  if (minor === 0) return [...patches];
  const proxyVersion = istioAtLeast(istioMinorForEnvoyMinor(minor));
  return patches.map((p) => {
    const match = (p.match ?? {}) as Record<string, unknown>;
    const proxy = (match.proxy ?? {}) as Record<string, unknown>;
    if (proxy.proxyVersion !== undefined && proxy.proxyVersion !== proxyVersion) {
      throw new Error(
        `EnvoyFilter patch already matches proxyVersion ${JSON.stringify(proxy.proxyVersion)}, ` +
          `but its fields need ${JSON.stringify(proxyVersion)} (Envoy >= 1.${minor}); leave proxyVersion to guardProxyVersion`,
      );
    }
    return { ...p, match: { ...match, proxy: { ...proxy, proxyVersion } } };
  });
}
