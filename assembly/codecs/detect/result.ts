// The values every detector answers with. See ../README.md for the contract.
import { PROTOCOL_NAMES } from "./protocols";

/** A detector's answer for the bytes seen so far. Results are values: there is no error path. */
export const enum Decision {
  /** Every byte so far fits; more are needed to decide. */
  NeedMoreData = 0,
  /** The bytes are this protocol. */
  Match = 1,
  /** A byte ruled the protocol out. */
  NoMatch = 2,
}

/** Protocols known to `classify`. The numbers are bit positions in detector masks. */
export const enum Protocol {
  /** Nothing matched: plain TCP. */
  Tcp = 0,
  Http1 = 1,
  H2 = 2,
  Tls = 3,
  Dubbo = 4,
  Thrift = 5,
  Redis = 6,
  Postgres = 7,
  Mysql = 8,
  Kafka = 9,
  Mqtt = 10,
  Amqp = 11,
}

/** PROTOCOL_NAMES.length (a compile-time constant for table sizes; tables.spec.ts checks both agree). */
export const PROTOCOL_COUNT: i32 = 12;

/** Stable names (static strings: no allocation) for logs, metrics and filter state (./protocols.ts). */
export function protocolName(p: Protocol): string {
  const i = <i32>p;
  return i > 0 && i < PROTOCOL_COUNT ? unchecked(PROTOCOL_NAMES[i]) : unchecked(PROTOCOL_NAMES[0]);
}

export function decisionName(d: Decision): string {
  switch (d) {
    case Decision.Match: return "Match";
    case Decision.NoMatch: return "NoMatch";
    default: return "NeedMoreData";
  }
}
