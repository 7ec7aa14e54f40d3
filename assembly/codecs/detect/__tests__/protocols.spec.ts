// The Protocol enum and the shared name list (../protocols.ts, also read by the controller) agree.
import { PROTOCOL_NAMES } from "../protocols";
import { PROTOCOL_COUNT, Protocol, protocolName } from "../result";

describe("protocol names", () => {
  it("has one name per Protocol, in enum order", () => {
    expect(PROTOCOL_NAMES.length).toBe(PROTOCOL_COUNT);
    expect(protocolName(Protocol.Tcp)).toBe("tcp");
    expect(protocolName(Protocol.Http1)).toBe("http/1.1");
    expect(protocolName(Protocol.H2)).toBe("h2c");
    expect(protocolName(Protocol.Tls)).toBe("tls");
    expect(protocolName(Protocol.Dubbo)).toBe("dubbo");
    expect(protocolName(Protocol.Thrift)).toBe("thrift");
    expect(protocolName(Protocol.Redis)).toBe("redis");
    expect(protocolName(Protocol.Postgres)).toBe("postgres");
    expect(protocolName(Protocol.Mysql)).toBe("mysql");
    expect(protocolName(Protocol.Kafka)).toBe("kafka");
    expect(protocolName(Protocol.Mqtt)).toBe("mqtt");
    expect(protocolName(Protocol.Amqp)).toBe("amqp");
    for (let i = 0; i < PROTOCOL_COUNT; i++) expect(protocolName(<Protocol>i)).toBe(PROTOCOL_NAMES[i]);
  });
});
