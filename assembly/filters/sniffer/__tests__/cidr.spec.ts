import { DestinationRule, IpAddr, PortRange, cidrContains, destinationAllowed, parseCidr, parseHostPort, parsePortRange } from "../cidr";

class Case {
  constructor(public cidr: string, public address: string, public inside: bool) {}
}

/** Parses "ip:port"/"[v6]:port" through the same path the filter uses. */
function addr(hostPort: string): IpAddr {
  const a = new IpAddr();
  const port = parseHostPort(String.UTF8.encode(hostPort), a);
  expect(port).toBeGreaterThanOrEqual(0, hostPort);
  return a;
}

const CONTAINS: Case[] = [
  new Case("10.0.0.0/8", "10.255.1.2:80", true),
  new Case("10.0.0.0/8", "11.0.0.1:80", false),
  new Case("10.1.2.3/8", "10.9.9.9:80", true), // host bits are masked, like Envoy's CidrRange
  new Case("192.168.1.7", "192.168.1.7:1", true),
  new Case("192.168.1.7", "192.168.1.8:1", false),
  new Case("0.0.0.0/0", "203.0.113.9:1", true),
  new Case("0.0.0.0/0", "[2001:db8::1]:1", false),
  new Case("2001:db8::/32", "[2001:db8:ffff::1]:443", true),
  new Case("2001:db8::/32", "[2001:db9::1]:443", false),
  new Case("::/0", "[fe80::1]:1", true),
  new Case("::1/128", "[::1]:1", true),
  new Case("2001:db8:0:0:0:0:0:1/127", "[2001:db8::0]:1", true),
  new Case("2001:db8::1:0:0/96", "[2001:db8::1:ffff:1]:1", true),
  new Case("2001:db8::/65", "[2001:db8:0:0:7fff::]:1", true),
  new Case("2001:db8::/65", "[2001:db8:0:0:8000::]:1", false),
  // IPv4-mapped addresses match IPv4 ranges, in either spelling.
  new Case("10.0.0.0/8", "[::ffff:10.1.1.1]:1", true),
  new Case("::ffff:10.0.0.0/104", "10.2.3.4:1", true),
  new Case("::ffff:10.0.0.0/104", "11.2.3.4:1", false),
];

const BAD_CIDRS: string[] = [
  "", "10.0.0.0/33", "10.0.0/8", "10.0.0.256/8", "10.0.0.01/8", "10.0.0.0/", "10.0.0.0/08", "::/129",
  "2001:db8:::/32", "1:2:3:4:5:6:7:8:9/128", "2001:db8::g/32", "fe80::1%eth0", "::ffff:10.0.0.0/95", "a.b.c.d",
];

const BAD_HOSTPORTS: string[] = ["10.0.0.1", "10.0.0.1:", "10.0.0.1:65536", "[::1:80", "::1:80", "host:80", ":80"];

describe("sniffer cidr", () => {
  it("matches addresses against ranges", () => {
    for (let i = 0; i < CONTAINS.length; i++) {
      const c = CONTAINS[i];
      const r = parseCidr(c.cidr);
      expect(r).not.toBeNull(c.cidr);
      expect(cidrContains(r!, addr(c.address))).toBe(c.inside, c.cidr + " ∋ " + c.address);
    }
  });

  it("rejects malformed ranges", () => {
    for (let i = 0; i < BAD_CIDRS.length; i++) expect(parseCidr(BAD_CIDRS[i])).toBeNull(BAD_CIDRS[i]);
  });

  it("parses Envoy's ip:port forms and rejects others", () => {
    const a = new IpAddr();
    expect(parseHostPort(String.UTF8.encode("127.0.0.1:6379"), a)).toBe(6379);
    expect(a.v6).toBe(false);
    expect(a.lo).toBe(0x7f000001);
    expect(parseHostPort(String.UTF8.encode("[2001:db8::1]:443"), a)).toBe(443);
    expect(a.v6).toBe(true);
    expect(a.hi).toBe(0x20010db800000000);
    expect(a.lo).toBe(1);
    for (let i = 0; i < BAD_HOSTPORTS.length; i++) {
      expect(parseHostPort(String.UTF8.encode(BAD_HOSTPORTS[i]), new IpAddr())).toBe(-1, BAD_HOSTPORTS[i]);
    }
  });

  it("parses port ranges", () => {
    expect(parsePortRange("8000-8100")!.hi).toBe(8100);
    expect(parsePortRange("6379")!.lo).toBe(6379);
    expect(parsePortRange("0")).toBeNull();
    expect(parsePortRange("65536")).toBeNull();
    expect(parsePortRange("9-1")).toBeNull();
    expect(parsePortRange("1-")).toBeNull();
    expect(parsePortRange("080")).toBeNull();
  });

  it("allows a destination when a rule holds both address and port", () => {
    const rules: DestinationRule[] = [
      new DestinationRule(parseCidr("10.0.0.0/8")!, [new PortRange(6379, 6379), new PortRange(8000, 8100)]),
      new DestinationRule(parseCidr("192.168.0.0/16")!, []),
    ];
    expect(destinationAllowed(rules, addr("10.0.0.1:6379"), 6379)).toBe(true);
    expect(destinationAllowed(rules, addr("10.0.0.1:8100"), 8100)).toBe(true);
    expect(destinationAllowed(rules, addr("10.0.0.1:8101"), 8101)).toBe(false);
    expect(destinationAllowed(rules, addr("192.168.3.4:1"), 1)).toBe(true);
    expect(destinationAllowed(rules, addr("172.16.0.1:6379"), 6379)).toBe(false);
    expect(destinationAllowed([], addr("10.0.0.1:6379"), 6379)).toBe(false);
  });
});
