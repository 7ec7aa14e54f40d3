import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { main } from "../../controller/cli.js";
import { dubboRouteConfiguration } from "../../controller/dubbo/route-config.js";
import { EnvoyValidator } from "../../controller/envoy/validate.js";
import { loadRuleSet, parseRuleSet } from "../../controller/rules/load.js";
import { nameMatchRegex } from "../../controller/rules/native.js";
import type { NameMatch } from "../../controller/rules/schema.js";
import { thriftRouteConfiguration } from "../../controller/thrift/route-config.js";
import { InputFileError } from "../../controller/yaml.js";
import { interfaceMatcher } from "../host/dubbo-proxy.js";

const HEAD = `apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: t }
spec:
  rules:
`;

/** A rule set of the given rule lines (each rule a YAML flow mapping, one per line). */
function rules(...lines: string[]): string {
  return HEAD + lines.map((l) => `    - ${l}\n`).join("");
}

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  return { code, stdout, stderr };
}

function refusal(text: string, render: (t: string) => unknown): InputFileError {
  try {
    render(text);
  } catch (err) {
    if (err instanceof InputFileError) return err;
    throw err;
  }
  assert.fail("expected a refusal");
}

describe("rule set loading", () => {
  const bad: Array<{ name: string; text: string; message: RegExp }> = [
    { name: "a misspelt match field", text: rules("{ name: a, match: { methd: { exact: x } }, route: { cluster: c } }"), message: /^rs\.yaml:6:\d+: spec\.rules\[0\]\.match: Unrecognized key: "methd"; remove it or check its spelling/ },
    { name: "a name matcher of two kinds", text: rules("{ name: a, match: { service: { exact: x, prefix: y } }, route: { cluster: c } }"), message: /^rs\.yaml:6:\d+: spec\.rules\[0\]\.match\.service: must be one of \{ exact/ },
    { name: "a weight of 0", text: rules("{ name: a, route: { weightedClusters: [{ name: c, weight: 0 }] } }"), message: /rs\.yaml:6:\d+: .*weight must be >= 1|route is \{ cluster/ },
    { name: "an upper-case rule name", text: rules("{ name: Orders, route: { cluster: c } }"), message: /^rs\.yaml:6:\d+: spec\.rules\[0\]\.name: name must be lower-case/ },
    { name: "a bad duration", text: rules("{ name: a, route: { cluster: c }, fault: { delay: { duration: 1h } } }"), message: /fault\.delay\.duration: must be a duration such as 250ms/ },
    { name: "the wrong kind", text: HEAD.replace("RpcRouteRules", "RouteRules") + "    - { name: a, route: { cluster: c } }\n", message: /^rs\.yaml:2:\d+: kind: kind must be RpcRouteRules/ },
    { name: "no rules", text: HEAD.replace("  rules:\n", "  rules: []\n"), message: /spec\.rules: spec\.rules needs at least one rule/ },
    { name: "two rules of one name", text: rules("{ name: a, route: { cluster: c } }", "{ name: a, route: { cluster: d } }"), message: /^rs\.yaml:7:\d+: rule name "a" is already used by spec\.rules\[0\]/ },
    { name: "a rule without route that does not deny", text: rules("{ name: a, match: { method: { exact: m } } }"), message: /^rs\.yaml:6:\d+: rule a has no route; add route/ },
    { name: "a deny rule with a route", text: rules("{ name: a, route: { cluster: c }, policy: { deny: true } }"), message: /rule a denies every call it matches, so its route is never used/ },
    { name: "a policy message without deny or rate limit", text: rules("{ name: a, route: { cluster: c }, policy: { message: hi } }"), message: /policy\.message is the text of a deny or rate-limit answer/ },
    { name: "a cluster twice in weightedClusters", text: rules("{ name: a, route: { weightedClusters: [{ name: c, weight: 1 }, { name: c, weight: 2 }] } }"), message: /cluster c appears twice in weightedClusters; add the weights together/ },
  ];
  for (const t of bad) {
    it(`refuses ${t.name}, naming file, line and fix`, () => {
      assert.throws(() => parseRuleSet(t.text, "rs.yaml"), (err: Error) => err instanceof InputFileError && t.message.test(err.message));
    });
  }

  it("names a missing file as a sentence", () => {
    assert.throws(() => loadRuleSet("no/such/rules.yaml"), /^InputFileError: no\/such\/rules\.yaml: no such file|no such file; check the path/);
  });

  it("loads the examples", () => {
    for (const f of ["dubbo", "thrift"]) loadRuleSet(`controller/rules/examples/${f}.yaml`);
  });
});

describe("dubbo_proxy route configuration", () => {
  const routeConfigs = (text: string) => dubboRouteConfiguration(parseRuleSet(text, "rs.yaml")).config.route_config as Array<Record<string, unknown>>;

  const interfaces: Array<{ service: string; interface: string }> = [
    { service: "{ exact: com.acme.Orders }", interface: "com.acme.Orders" },
    { service: "{ prefix: com.acme. }", interface: "com.acme.*" },
    { service: "{ glob: \"*\" }", interface: "*" },
    { service: "{ glob: \"*.Orders\" }", interface: "*.Orders" },
    { service: "{ glob: \"com.acme.*\" }", interface: "com.acme.*" },
  ];
  for (const t of interfaces) {
    it(`service ${t.service} → interface ${t.interface}`, () => {
      assert.equal(routeConfigs(rules(`{ name: a, match: { service: ${t.service} }, route: { cluster: c } }`))[0]!.interface, t.interface);
    });
  }

  it("a rule without service matches any interface (*), version and group go on the RouteConfiguration", () => {
    const [rc] = routeConfigs(rules("{ name: a, match: { version: 1.0.0, group: blue }, route: { cluster: c } }"));
    assert.deepEqual({ interface: rc!.interface, version: rc!.version, group: rc!.group }, { interface: "*", version: "1.0.0", group: "blue" });
  });

  it("method and attachments go on the route: exact as exact, prefix/glob as a full-match regex, none as any non-empty name", () => {
    const [rc] = routeConfigs(rules(
      "{ name: a, match: { method: { exact: get }, headers: [{ name: X-Env, exact: prod }] }, route: { cluster: c } }",
      "{ name: b, match: { method: { prefix: list } }, route: { cluster: c } }",
      "{ name: d, match: { method: { glob: \"*.v2\" }, headers: [{ name: x-a, present: true }, { name: x-b, prefix: eu- }] }, route: { cluster: c } }",
      "{ name: e, route: { cluster: c } }",
    ));
    assert.deepEqual((rc!.routes as Array<{ match: unknown }>).map((r) => r.match), [
      { method: { name: { exact: "get" } }, headers: [{ name: "x-env", string_match: { exact: "prod" } }] },
      { method: { name: { safe_regex: { regex: "list.+" } } }, headers: undefined },
      { method: { name: { safe_regex: { regex: ".+\\.v2" } } }, headers: [{ name: "x-a", present_match: true }, { name: "x-b", string_match: { prefix: "eu-" } }] },
      { method: { name: { safe_regex: { regex: ".+" } } }, headers: undefined },
    ]);
  });

  it("keeps first-match order: a new RouteConfiguration whenever service, version or group change", () => {
    const rcs = routeConfigs(rules(
      "{ name: a, match: { service: { exact: A } }, route: { cluster: c1 } }",
      "{ name: b, match: { service: { exact: A } }, route: { cluster: c2 } }",
      "{ name: c, match: { service: { exact: B } }, route: { cluster: c3 } }",
      "{ name: d, match: { service: { exact: A } }, route: { cluster: c4 } }",
    ));
    assert.deepEqual(rcs.map((r) => [r.name, r.interface, (r.routes as unknown[]).length]), [["t-0", "A", 2], ["t-1", "B", 1], ["t-2", "A", 1]]);
  });

  it("renders weighted clusters in order", () => {
    const [rc] = routeConfigs(rules("{ name: a, route: { weightedClusters: [{ name: x, weight: 90 }, { name: y, weight: 10 }] } }"));
    assert.deepEqual((rc!.routes as Array<{ route: unknown }>)[0]!.route, { weighted_clusters: { clusters: [{ name: "x", weight: 90 }, { name: "y", weight: 10 }] } });
  });

  const refused: Array<{ name: string; rule: string; line: number; message: RegExp }> = [
    { name: "a glob with a * in the middle", rule: "{ name: a, match: { service: { glob: \"com.*.Orders\" } }, route: { cluster: c } }", line: 6, message: /dubbo_proxy matches an interface exactly, by one leading or trailing \* or by \*/ },
    { name: "an exact interface Envoy would read as a wildcard", rule: "{ name: a, match: { service: { exact: \"Orders*\" } }, route: { cluster: c } }", line: 6, message: /reads a leading or trailing \* in an interface as a wildcard/ },
  ];
  for (const t of refused) {
    it(`refuses ${t.name}, naming the rule's line`, () => {
      const err = refusal(rules(t.rule), (x) => dubboRouteConfiguration(parseRuleSet(x, "rs.yaml")));
      assert.equal(err.line, t.line);
      assert.match(err.message, t.message);
    });
  }

  it("warns about what only the wasm filter enforces, and renders no route for a deny-only rule", () => {
    const { config, warnings } = dubboRouteConfiguration(parseRuleSet(rules(
      "{ name: a, route: { cluster: c }, fault: { abort: { message: boom } }, policy: { rateLimit: { tokens: 5, interval: 1s } } }",
      "{ name: b, match: { service: { exact: Old } }, policy: { deny: true } }",
    ), "rs.yaml"));
    assert.deepEqual(warnings.map((w) => w.replace(/ not by .*/, "")), [
      "rs.yaml:6: rule a: policy.rateLimit, fault.abort are enforced by the protomesh wasm filter placed before dubbo_proxy,",
      "rs.yaml:7: rule b denies and has no route, so dubbo_proxy gets no route for it: its calls are answered by the wasm filter; without that filter they fall through to the rules after it",
    ]);
    assert.equal((config.route_config as unknown[]).length, 1);
  });

  it("agrees with the rule model on which services match, as dubbo_proxy's InterfaceMatcher reads the rendered interface", () => {
    const matchers: NameMatch[] = [{ exact: "com.acme.Orders" }, { prefix: "com.acme." }, { glob: "*" }, { glob: "*.Orders" }, { glob: "com.acme.*" }];
    const names = ["com.acme.Orders", "com.acme.", "com.acme.X", "x.Orders", ".Orders", "", "com.acme"];
    for (const m of matchers) {
      const key = Object.keys(m)[0]!;
      const rendered = routeConfigs(rules(`{ name: a, match: { service: { ${key}: ${JSON.stringify(Object.values(m)[0])} } }, route: { cluster: c } }`))[0]!.interface as string;
      const model = new RegExp(`^(?:${nameMatchRegex(m)})$`, "s");
      for (const n of names) assert.equal(interfaceMatcher(rendered)(n), model.test(n), `${JSON.stringify(m)} on ${JSON.stringify(n)}`);
    }
  });

  it("is valid as Envoy's MultipleRouteConfiguration (the validator would reject an unknown field)", () => {
    const { config } = dubboRouteConfiguration(loadRuleSet("controller/rules/examples/dubbo.yaml"));
    const v = EnvoyValidator.shared();
    assert.deepEqual(v.validate(config, { typeName: "envoy.extensions.filters.network.dubbo_proxy.v3.MultipleRouteConfiguration" }), []);
    assert.notDeepEqual(v.validate({ ...config, bogus: 1 }, { typeName: "envoy.extensions.filters.network.dubbo_proxy.v3.MultipleRouteConfiguration" }), []);
  });
});

describe("thrift_proxy route configuration", () => {
  const routes = (text: string) => (thriftRouteConfiguration(parseRuleSet(text, "rs.yaml")).config.routes as Array<{ match: Record<string, unknown> }>).map((r) => r.match);

  const mapped: Array<{ name: string; match: string; expect: Record<string, unknown> }> = [
    { name: "service + method → method_name Service:method", match: "{ service: { exact: Catalog }, method: { exact: search } }", expect: { method_name: "Catalog:search" } },
    { name: "service → service_name", match: "{ service: { exact: Catalog } }", expect: { service_name: "Catalog" } },
    { name: "method → method_name", match: "{ method: { exact: ping } }", expect: { method_name: "ping" } },
    { name: "nothing → method_name \"\" (every call)", match: "{}", expect: { method_name: "" } },
    { name: "THeader headers → headers", match: "{ method: { exact: ping }, headers: [{ name: X-Tenant, exact: blue }] }", expect: { method_name: "ping", headers: [{ name: "x-tenant", string_match: { exact: "blue" } }] } },
  ];
  for (const t of mapped) {
    it(t.name, () => {
      const [m] = routes(rules(`{ name: a, match: ${t.match}, route: { cluster: c } }`));
      assert.deepEqual(m, { headers: undefined, ...t.expect });
    });
  }

  const refused: Array<{ name: string; match: string; message: RegExp }> = [
    { name: "a service prefix", match: "{ service: { prefix: Cat } }", message: /thrift_proxy matches service_name exactly, so a prefix cannot be said there/ },
    { name: "a method glob", match: "{ method: { glob: \"get*\" } }", message: /thrift_proxy matches method_name exactly, so a glob cannot be said there/ },
    { name: "a Dubbo version", match: "{ version: 1.0.0 }", message: /version is a Dubbo match; Thrift calls carry none/ },
    { name: "a Dubbo group", match: "{ group: blue }", message: /group is a Dubbo match/ },
  ];
  for (const t of refused) {
    it(`refuses ${t.name}, naming the rule's line`, () => {
      const err = refusal(rules("{ name: ok, route: { cluster: c } }", `{ name: a, match: ${t.match}, route: { cluster: c } }`), (x) => thriftRouteConfiguration(parseRuleSet(x, "rs.yaml")));
      assert.equal(err.line, 7);
      assert.match(err.message, t.message);
    });
  }
});

describe("render rules (CLI)", () => {
  const cases: Array<{ argv: string[]; filter: string; transport?: string }> = [
    { argv: ["--proxy", "dubbo", "--rules", "controller/rules/examples/dubbo.yaml", "--cluster", "payments=10.0.0.7:20880"], filter: "envoy.filters.network.dubbo_proxy" },
    {
      argv: ["--proxy", "thrift", "--rules", "controller/rules/examples/thrift.yaml", "--transport", "HEADER", "--protocol", "COMPACT", "--cluster", "catalog=10.0.0.7:9090"],
      filter: "envoy.filters.network.thrift_proxy",
      transport: "HEADER",
    },
  ];
  for (const t of cases) {
    it(`renders a valid per-request bootstrap ending in ${t.filter}`, async () => {
      const r = await cli("render", "rules", ...t.argv);
      assert.equal(r.code, 0, r.stderr);
      const b = parse(r.stdout) as { static_resources: { listeners: Array<{ filter_chains: Array<{ filters: Array<{ name: string; typed_config: Record<string, unknown> }> }> }> } };
      const filters = b.static_resources.listeners[0]!.filter_chains[0]!.filters;
      assert.equal(filters.at(-1)!.name, t.filter);
      assert.equal(filters.at(-1)!.typed_config.transport, t.transport);
      assert.deepEqual(EnvoyValidator.shared().validate(b), []);
    });
  }

  it("refuses a --cluster the rule set does not route to", async () => {
    const r = await cli("render", "rules", "--proxy", "thrift", "--rules", "controller/rules/examples/thrift.yaml", "--cluster", "payments=10.0.0.7:9090");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cluster payments is not routed to by any rule of controller\/rules\/examples\/thrift\.yaml; rules route to: catalog, catalog-blue, search-v1, search-v2/);
  });

  it("prints the warnings on stderr and the route configuration alone with --route-config-only", async () => {
    const r = await cli("render", "rules", "--proxy", "dubbo", "--rules", "controller/rules/examples/dubbo.yaml", "--route-config-only");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^protomesh: warning: controller\/rules\/examples\/dubbo\.yaml:\d+: rule orders-writes: policy\.rateLimit is enforced by the protomesh wasm filter/m);
    const rc = parse(r.stdout) as { name: string; route_config: unknown[] };
    assert.equal(rc.name, "shop");
    assert.ok(rc.route_config.length > 1);
  });

  it("fails with the rule's file and line when the proxy cannot express a rule", async () => {
    const r = await cli("render", "rules", "--proxy", "thrift", "--rules", "controller/rules/examples/dubbo.yaml");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^protomesh: controller\/rules\/examples\/dubbo\.yaml:\d+:\d+: rule orders-v2: version is a Dubbo match/);
  });

  it("refuses thrift options for dubbo", async () => {
    const r = await cli("render", "rules", "--proxy", "dubbo", "--rules", "controller/rules/examples/dubbo.yaml", "--transport", "FRAMED");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--transport and --protocol apply to --proxy thrift/);
  });
});
