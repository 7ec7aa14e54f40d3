/**
 * Plugin-configuration schemas by root id (the filter's folder name, the root id it answers to:
 * docs/design/workbench-contract.md). Render and validate both check a configuration here, so the
 * controller refuses exactly what the filter's `on_configure` would, in the filter's words.
 */
import type { z } from "zod";
import { describeIssue } from "./fields.js";
import { checkLimits, checkSize } from "./json.js";
import { httpTelemetryKnownFields, httpTelemetrySchema } from "./http-telemetry.js";
import { snifferKnownFields, snifferSchema } from "./sniffer.js";
import { tcpStatsKnownFields, tcpStatsSchema } from "./tcp-stats.js";
import { thriftKnownFields, thriftSchema } from "./thrift.js";

export interface PluginConfigSchema {
  /** Root id, also the filter's name. */
  readonly rootId: string;
  readonly schema: z.ZodType<unknown>;
  /** Known fields at a path, for "unknown field" errors. */
  readonly knownFields: (path: readonly PropertyKey[]) => readonly string[];
}

export const PLUGIN_CONFIG_SCHEMAS: Readonly<Record<string, PluginConfigSchema>> = {
  "http-telemetry": { rootId: "http-telemetry", schema: httpTelemetrySchema, knownFields: httpTelemetryKnownFields },
  sniffer: { rootId: "sniffer", schema: snifferSchema, knownFields: snifferKnownFields },
  "tcp-stats": { rootId: "tcp-stats", schema: tcpStatsSchema, knownFields: tcpStatsKnownFields },
  thrift: { rootId: "thrift", schema: thriftSchema, knownFields: thriftKnownFields },
};

export function pluginConfigSchema(rootId: string): PluginConfigSchema | undefined {
  return Object.hasOwn(PLUGIN_CONFIG_SCHEMAS, rootId) ? PLUGIN_CONFIG_SCHEMAS[rootId] : undefined;
}

/**
 * The problems the filter `rootId` would log for `configuration`, in its words (without the
 * `<filter>: invalid configuration: ` prefix): a JSON text as Envoy hands it over, or an object
 * the controller is about to render. Empty when the filter would accept it. An empty (or
 * whitespace-only) text means all defaults, as in the filters.
 */
export function checkConfiguration(rootId: string, configuration: unknown): string[] {
  const spec = pluginConfigSchema(rootId);
  if (spec === undefined) return [];
  let value = configuration;
  if (typeof configuration === "string") {
    const tooBig = checkSize(configuration);
    if (tooBig !== null) return [tooBig];
    if (/^[ \t\n\r]*$/.test(configuration)) return [];
    try {
      value = JSON.parse(configuration);
    } catch (err) {
      return [`not JSON: ${(err as Error).message}`];
    }
  }
  const limits = checkLimits(value);
  if (limits.length > 0) return limits;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return [`expected a JSON object, found ${value === null ? "null" : Array.isArray(value) ? "array" : typeof value}`];
  }
  const parsed = spec.schema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => describeIssue(i, spec.knownFields));
}

/** Thrown by render paths for a configuration the filter would refuse. */
export class PluginConfigError extends Error {
  constructor(readonly rootId: string, readonly problems: readonly string[]) {
    super(`${rootId}: invalid configuration: ${problems.join("; ")}`);
    this.name = "PluginConfigError";
  }
}

/** Throws PluginConfigError when the filter `rootId` would refuse `configuration`. */
export function assertConfiguration(rootId: string, configuration: unknown): void {
  const problems = checkConfiguration(rootId, configuration);
  if (problems.length > 0) throw new PluginConfigError(rootId, problems);
}
