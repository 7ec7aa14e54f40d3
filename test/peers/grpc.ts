/**
 * An in-process @grpc/grpc-js server (insecure, i.e. h2c) with one unary method whose messages
 * are raw bytes, so no .proto or codegen is needed.
 */
import * as grpc from "@grpc/grpc-js";

const identity = (b: Buffer): Buffer => b;

export const echoService: grpc.ServiceDefinition = {
  Echo: {
    path: "/protomesh.test.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export interface GrpcPeer {
  readonly port: number;
  close(): Promise<void>;
}

/** Answers `echo:` + the request bytes. */
export async function startGrpcServer(): Promise<GrpcPeer> {
  const server = new grpc.Server();
  server.addService(echoService, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      cb(null, Buffer.concat([Buffer.from("echo:"), call.request]));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Bounded: in-flight calls through a stuck proxy must not hold the after hook.
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}

const EchoClient = grpc.makeGenericClientConstructor(echoService, "Echo");

/** One unary call on a fresh channel, closed afterwards. */
export function grpcEcho(port: number, payload: Buffer, timeoutMs = 5000): Promise<Buffer> {
  const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      echoService.Echo!.path,
      identity,
      identity,
      payload,
      { deadline: Date.now() + timeoutMs },
      (err: grpc.ServiceError | null, value?: Buffer) => (err ? reject(err) : resolve(value!)),
    );
  }).finally(() => client.close());
}
