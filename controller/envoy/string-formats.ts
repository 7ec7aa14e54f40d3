/**
 * The string formats PGV's C++ validators check (bufbuild/protoc-gen-validate
 * `validate/validate.h` IsHostname/IsIp, `module/checker.go` for the well-known regexes).
 */
import { isIPv4, isIPv6 } from "node:net";

export const HTTP_HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+-.^_|~`]+$/;
export const HTTP_HEADER_VALUE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
export const HEADER_STRING = /^[^\u0000\u000A\u000D]*$/;
export const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** pgv::IsHostname (validate/validate.h): dot-separated labels of 1..63 letters, digits, '-', not at a label's ends. */
export function isHostname(s: string): boolean {
  if (s.length > 253) return false;
  return s.split(".").every((part) => /^[A-Za-z0-9-]{1,63}$/.test(part) && !part.startsWith("-") && !part.endsWith("-"));
}

/** inet_pton(AF_INET6) takes no zone id (`%eth0`); Node's isIPv6 does. */
export const isIpv6 = (s: string): boolean => isIPv6(s) && !s.includes("%");

export const isIpv4 = (s: string): boolean => isIPv4(s);

export const isIp = (s: string): boolean => isIpv4(s) || isIpv6(s);
