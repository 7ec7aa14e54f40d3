/**
 * Istio AuthorizationPolicy documents (security.istio.io/v1 and v1beta1) as the controller reads
 * them: from YAML files (one or many documents, or a `kind: List` as `kubectl get -o yaml` writes
 * it), validated, and selected for one workload the way istiod selects them.
 *
 * Validation runs the CRD schema of @kubernetes-models/istio, then a strict schema of the fields
 * Istio 1.29's API defines (the package's schema predates `targetRef(s)` and lets unknown fields
 * through), then the value checks istiod's validating webhook makes on what the controller
 * translates (istio/istio pkg/config/security/security.go ValidateAttribute / ValidatePorts): IP
 * blocks are addresses or CIDRs, ports are integers in [0, 65535], `when` keys are attributes
 * Istio knows, no value is empty. A document that fails names its file, line and field.
 *
 * Selection copies istio/istio release-1.29 pilot/pkg/model: policies are looked up in the root
 * namespace and the workload's namespace (authorization.go, ListAuthorizationPolicies); for a
 * sidecar, a policy with `targetRef`/`targetRefs` is ignored and a `selector` must be a subset of
 * the workload's labels (policyattachment.go, ShouldAttachPolicy / isSelected).
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { AuthorizationPolicy as AuthorizationPolicyV1 } from "@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy";
import { AuthorizationPolicy as AuthorizationPolicyV1beta1 } from "@kubernetes-models/istio/security.istio.io/v1beta1/AuthorizationPolicy";
import { isMap, LineCounter, parseAllDocuments, type Document } from "yaml";
import { z } from "zod";

export const AUTHORIZATION_POLICY_API_VERSIONS = ["security.istio.io/v1", "security.istio.io/v1beta1"] as const;
export type AuthorizationAction = "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";

/** Istio's default root namespace (meshConfig.rootNamespace). */
export const ISTIO_ROOT_NAMESPACE = "istio-system";

/** Istio's annotation that turns a policy into a dry run (istio.io/api annotation IoIstioDryRun). */
export const DRY_RUN_ANNOTATION = "istio.io/dry-run";

const values = z.array(z.string()).optional();

const sourceSchema = z.strictObject({
  principals: values, notPrincipals: values,
  requestPrincipals: values, notRequestPrincipals: values,
  namespaces: values, notNamespaces: values,
  serviceAccounts: values, notServiceAccounts: values,
  ipBlocks: values, notIpBlocks: values,
  remoteIpBlocks: values, notRemoteIpBlocks: values,
});

const operationSchema = z.strictObject({
  hosts: values, notHosts: values,
  ports: values, notPorts: values,
  methods: values, notMethods: values,
  paths: values, notPaths: values,
});

const conditionSchema = z.strictObject({ key: z.string(), values, notValues: values });

const ruleSchema = z.strictObject({
  from: z.array(z.strictObject({ source: sourceSchema.optional() })).optional(),
  to: z.array(z.strictObject({ operation: operationSchema.optional() })).optional(),
  when: z.array(conditionSchema).optional(),
});

const targetRefSchema = z.strictObject({ group: z.string().optional(), kind: z.string(), name: z.string(), namespace: z.string().optional() });

const specSchema = z.strictObject({
  selector: z.strictObject({ matchLabels: z.record(z.string(), z.string()).optional() }).optional(),
  targetRef: targetRefSchema.optional(),
  targetRefs: z.array(targetRefSchema).optional(),
  rules: z.array(ruleSchema.nullable()).optional(),
  action: z.enum(["ALLOW", "DENY", "AUDIT", "CUSTOM"]).optional(),
  provider: z.strictObject({ name: z.string() }).optional(),
});

export type AuthorizationSource = z.infer<typeof sourceSchema>;
export type AuthorizationOperation = z.infer<typeof operationSchema>;
export type AuthorizationCondition = z.infer<typeof conditionSchema>;
export type AuthorizationRule = z.infer<typeof ruleSchema>;
export type AuthorizationPolicySpec = z.infer<typeof specSchema>;

/** One validated AuthorizationPolicy. */
export interface AuthorizationPolicyDocument {
  readonly name: string;
  /** undefined: the document names none (kubectl applies it to its current namespace). */
  readonly namespace?: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly spec: AuthorizationPolicySpec;
  /** `file:line` of the document, for messages. */
  readonly origin: string;
}

/** `ns/name`, or `name` when the document has no namespace. */
export function policyId(p: AuthorizationPolicyDocument): string {
  return p.namespace === undefined ? p.name : `${p.namespace}/${p.name}`;
}

/** The action istiod applies: unset means ALLOW (istio.io/api security/v1beta1 Action, ALLOW = 0). */
export function policyAction(p: AuthorizationPolicyDocument): AuthorizationAction {
  return p.spec.action ?? "ALLOW";
}

/** istiod skips a dry-run policy when enforcing (pilot/pkg/security/authz/builder/builder.go isDryRun → shadow rules). */
export function isDryRun(p: AuthorizationPolicyDocument): boolean {
  const v = p.annotations[DRY_RUN_ANNOTATION];
  // Go's strconv.ParseBool, which isDryRun uses.
  return v !== undefined && ["1", "t", "T", "TRUE", "true", "True"].includes(v);
}

/** The `when` keys Istio knows (pkg/config/security/security.go ValidateAttribute). */
const KNOWN_KEYS = [
  "source.ip", "remote.ip", "source.namespace", "source.serviceAccount", "source.principal",
  "request.auth.principal", "request.auth.audiences", "request.auth.presenter",
  "destination.ip", "destination.port", "connection.sni",
];
const KNOWN_KEY_PREFIXES = ["request.headers[", "request.auth.claims[", "experimental.envoy.filters."];

/** An IPv4/IPv6 address or CIDR, as Istio's util.AddrStrToCidrRange accepts. */
export function isIpBlock(value: string): boolean {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(value);
  if (m === null) return false;
  const family = isIP(m[1]!);
  if (family === 0) return false;
  return m[2] === undefined || Number(m[2]) <= (family === 4 ? 32 : 128);
}

export function isPortValue(value: string): boolean {
  return /^\d{1,5}$/.test(value) && Number(value) <= 65535;
}

type Path = ReadonlyArray<string | number>;

interface Problem {
  readonly path: Path;
  readonly message: string;
}

function checkValues(list: readonly string[] | undefined, path: Path, check: ((v: string) => string | undefined) | undefined, out: Problem[]): void {
  list?.forEach((v, i) => {
    if (v === "") out.push({ path: [...path, i], message: "empty value not allowed" });
    else {
      const bad = check?.(v);
      if (bad !== undefined) out.push({ path: [...path, i], message: bad });
    }
  });
}

const ipCheck = (v: string): string | undefined => (isIpBlock(v) ? undefined : `${JSON.stringify(v)} is not an IP address or CIDR`);
const portCheck = (v: string): string | undefined => (isPortValue(v) ? undefined : `${JSON.stringify(v)} is not a port in [0, 65535]`);

/** What istiod's webhook checks on the fields the controller translates. */
function checkSpec(spec: AuthorizationPolicySpec): Problem[] {
  const out: Problem[] = [];
  const action = spec.action ?? "ALLOW";
  if (action === "CUSTOM" && spec.provider === undefined) out.push({ path: ["spec", "provider"], message: "action CUSTOM needs a provider" });
  if (action !== "CUSTOM" && spec.provider !== undefined) out.push({ path: ["spec", "provider"], message: `a provider applies to action CUSTOM only, not ${action}` });
  if (spec.targetRef !== undefined && spec.targetRefs !== undefined) out.push({ path: ["spec", "targetRef"], message: "set targetRef or targetRefs, not both" });
  if ((spec.targetRef !== undefined || spec.targetRefs !== undefined) && spec.selector !== undefined) {
    out.push({ path: ["spec", "selector"], message: "set selector or targetRef(s), not both" });
  }
  spec.rules?.forEach((rule, r) => {
    if (rule === null) return;
    const base = ["spec", "rules", r];
    rule.from?.forEach((f, i) => {
      const s = f.source;
      if (s === undefined) return;
      const p = [...base, "from", i, "source"];
      for (const k of ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"] as const) checkValues(s[k], [...p, k], ipCheck, out);
      for (const k of ["principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts"] as const) {
        checkValues(s[k], [...p, k], undefined, out);
      }
    });
    rule.to?.forEach((t, i) => {
      const o = t.operation;
      if (o === undefined) return;
      const p = [...base, "to", i, "operation"];
      for (const k of ["ports", "notPorts"] as const) checkValues(o[k], [...p, k], portCheck, out);
      for (const k of ["hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"] as const) checkValues(o[k], [...p, k], undefined, out);
    });
    rule.when?.forEach((c, i) => {
      const p = [...base, "when", i];
      if (!KNOWN_KEYS.includes(c.key) && !KNOWN_KEY_PREFIXES.some((k) => c.key.startsWith(k))) {
        out.push({ path: [...p, "key"], message: `unknown attribute ${JSON.stringify(c.key)}` });
        return;
      }
      if ((c.values ?? []).length === 0 && (c.notValues ?? []).length === 0) {
        out.push({ path: p, message: `condition ${c.key} needs values or notValues` });
      }
      const check = c.key === "source.ip" || c.key === "remote.ip" || c.key === "destination.ip" ? ipCheck : c.key === "destination.port" ? portCheck : undefined;
      checkValues(c.values, [...p, "values"], check, out);
      checkValues(c.notValues, [...p, "notValues"], check, out);
    });
  });
  return out;
}

function formatPath(path: Path): string {
  return path.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");
}

function lineOf(doc: Document, lc: LineCounter, path: Path): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range !== undefined) return lc.linePos(node.range[0]).line;
  }
  return 1;
}

/** Validates one parsed document; `where(path)` gives `file:line` for a field. */
function toPolicy(raw: unknown, where: (path: Path) => string, basePath: Path): AuthorizationPolicyDocument {
  const fail = (path: Path, message: string): never => {
    throw new Error(`${where([...basePath, ...path])}: ${formatPath(path) || "(document)"}: ${message}`);
  };
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail([], "expected an AuthorizationPolicy object");
  const obj = raw as Record<string, unknown>;
  if (obj["kind"] !== "AuthorizationPolicy") {
    fail(["kind"], `kind ${JSON.stringify(obj["kind"])} is not an AuthorizationPolicy; pass only AuthorizationPolicy documents (or a List of them)`);
  }
  const apiVersion = obj["apiVersion"];
  if (!AUTHORIZATION_POLICY_API_VERSIONS.includes(apiVersion as (typeof AUTHORIZATION_POLICY_API_VERSIONS)[number])) {
    fail(["apiVersion"], `apiVersion ${JSON.stringify(apiVersion)} must be one of ${AUTHORIZATION_POLICY_API_VERSIONS.join(", ")}`);
  }
  try {
    const Model = apiVersion === "security.istio.io/v1" ? AuthorizationPolicyV1 : AuthorizationPolicyV1beta1;
    new Model(obj as ConstructorParameters<typeof Model>[0]).validate();
  } catch (err) {
    fail([], `invalid AuthorizationPolicy: ${(err as Error).message}`);
  }
  const meta = (obj["metadata"] ?? {}) as Record<string, unknown>;
  const name = meta["name"];
  if (typeof name !== "string" || name === "") fail(["metadata", "name"], "metadata.name is required");
  const parsed = specSchema.safeParse(obj["spec"] ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = (issue as { keys?: string[] }).keys;
    const path = ["spec", ...issue.path.map((s) => (typeof s === "symbol" ? String(s) : s))];
    fail(keys === undefined ? path : [...path, keys[0]!], keys === undefined ? issue.message : `unknown field ${JSON.stringify(keys[0])}`);
  }
  const spec = parsed.data!;
  const problems = checkSpec(spec);
  if (problems.length > 0) fail(problems[0]!.path, problems[0]!.message);
  const annotations = (meta["annotations"] ?? {}) as Record<string, string>;
  return {
    annotations: { ...annotations },
    name: name as string,
    namespace: typeof meta["namespace"] === "string" ? meta["namespace"] : undefined,
    origin: where(basePath),
    spec,
  };
}

/** Parses YAML text holding AuthorizationPolicy documents (`---`-separated, or `kind: List`). */
export function parseAuthorizationPolicies(text: string, file: string): AuthorizationPolicyDocument[] {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true, version: "1.2" });
  const out: AuthorizationPolicyDocument[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      throw new Error(`${file}:${e.linePos?.[0]?.line ?? 1}: YAML: ${e.message.split("\n")[0]}`);
    }
    const raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (raw === null || raw === undefined) continue; // an empty document (e.g. after a trailing `---`)
    const where = (path: Path): string => `${file}:${lineOf(doc, lc, path)}`;
    if (isMap(doc.contents) && (raw as Record<string, unknown>)["kind"] === "List") {
      const items = (raw as Record<string, unknown>)["items"];
      if (!Array.isArray(items)) throw new Error(`${where(["items"])}: a List needs items`);
      items.forEach((item, i) => out.push(toPolicy(item, where, ["items", i])));
    } else {
      out.push(toPolicy(raw, where, []));
    }
  }
  return out;
}

/** Reads files of AuthorizationPolicy documents; errors name the file. */
export function loadAuthorizationPolicies(files: readonly string[]): AuthorizationPolicyDocument[] {
  const out: AuthorizationPolicyDocument[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory, give the YAML files in it" : (err as Error).message;
      throw new Error(`${file}: cannot read AuthorizationPolicy file: ${why}`);
    }
    const docs = parseAuthorizationPolicies(text, file);
    if (docs.length === 0) throw new Error(`${file}: holds no AuthorizationPolicy document`);
    out.push(...docs);
  }
  return out;
}

export interface WorkloadSelection {
  /** The workload's namespace. @default undefined (unknown: the namespace kubectl applies to) */
  readonly namespace?: string;
  /**
   * Labels every selected workload carries (the EnvoyFilter's workloadSelector).
   * @default undefined (every workload of the namespace)
   */
  readonly labels?: Readonly<Record<string, string>>;
  /** @default "istio-system" */
  readonly rootNamespace?: string;
}

export interface SelectedPolicies {
  /** Policies istiod attaches to the workload, sorted by namespace/name. */
  readonly applied: readonly AuthorizationPolicyDocument[];
  /** Policies that do not apply, with the reason. */
  readonly skipped: ReadonlyArray<{ readonly policy: AuthorizationPolicyDocument; readonly reason: string }>;
}

/**
 * The policies istiod attaches to the workload (a sidecar). Throws when the answer depends on
 * something the caller did not say (a labelled policy with no workload labels, a namespace
 * that cannot be compared), naming the policy and the option that settles it.
 */
export function selectPolicies(policies: readonly AuthorizationPolicyDocument[], workload: WorkloadSelection): SelectedPolicies {
  const root = workload.rootNamespace ?? ISTIO_ROOT_NAMESPACE;
  const applied: AuthorizationPolicyDocument[] = [];
  const skipped: Array<{ policy: AuthorizationPolicyDocument; reason: string }> = [];
  const seen = new Map<string, string>();
  for (const p of policies) {
    const id = `${p.namespace ?? workload.namespace ?? ""}/${p.name}`;
    const dup = seen.get(id);
    if (dup !== undefined) throw new Error(`${p.origin}: AuthorizationPolicy ${policyId(p)} is also defined at ${dup}; give each policy once`);
    seen.set(id, p.origin);
    if (p.spec.targetRef !== undefined || (p.spec.targetRefs ?? []).length > 0) {
      skipped.push({ policy: p, reason: "has targetRef(s): istiod attaches such policies to gateways and waypoints, never to a sidecar" });
      continue;
    }
    const ns = p.namespace;
    if (ns !== undefined && ns !== root) {
      if (workload.namespace === undefined) {
        throw new Error(
          `${p.origin}: AuthorizationPolicy ${policyId(p)} is in namespace ${ns}; give the workload's namespace (--namespace) so it can be ` +
            `compared (istiod applies policies of the workload's namespace and of the root namespace ${root})`,
        );
      }
      if (ns !== workload.namespace) {
        skipped.push({ policy: p, reason: `namespace ${ns} is neither the workload's (${workload.namespace}) nor the root namespace (${root})` });
        continue;
      }
    }
    const wanted = p.spec.selector?.matchLabels ?? {};
    const labels = workload.labels ?? {};
    const conflict = Object.entries(wanted).find(([k, v]) => k in labels && labels[k] !== v);
    if (conflict !== undefined) {
      skipped.push({ policy: p, reason: `its selector wants ${conflict[0]}=${conflict[1]}, the workload has ${conflict[0]}=${labels[conflict[0]]}` });
      continue;
    }
    const unknown = Object.keys(wanted).filter((k) => !(k in labels)).sort();
    if (unknown.length > 0) {
      throw new Error(
        `${p.origin}: AuthorizationPolicy ${policyId(p)} selects ${unknown.map((k) => `${k}=${wanted[k]}`).join(", ")}, which the ` +
          `workload selector (--selector) does not fix, so it applies to some of the selected workloads and not others; ` +
          `add ${unknown.map((k) => `--selector ${k}=${wanted[k]}`).join(" ")} (or render one EnvoyFilter per distinct workload)`,
      );
    }
    applied.push(p);
  }
  applied.sort((a, b) => (policyId(a) < policyId(b) ? -1 : policyId(a) > policyId(b) ? 1 : 0));
  return { applied, skipped };
}
