// Calls an @connections endpoint with the AWS SDK for JavaScript v3 and
// checks that its answers, errors included, come out as the SDK's typed
// results. Prints one "PASS name: ..." or "FAIL name: ..." line per check
// and exits 1 if any failed.
//
//   AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \
//     node sdkerrors.mjs http://HOST:PORT/STAGE CONNECTION_ID MESSAGE
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  ForbiddenException,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";

const [endpoint, connectionId, message] = process.argv.slice(2);
const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = process.env;
if (!endpoint || !connectionId || !message || !accessKeyId || !secretAccessKey) {
  console.error("usage: AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... node sdkerrors.mjs ENDPOINT CONNECTION_ID MESSAGE");
  process.exit(2);
}

const client = (secret) =>
  new ApiGatewayManagementApiClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId, secretAccessKey: secret },
    maxAttempts: 1,
  });
const api = client(secretAccessKey);

let failed = 0;
async function check(name, fn) {
  try {
    console.log(`PASS ${name}: ${await fn()}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${err?.name}: ${err?.message} (HTTP ${err?.$metadata?.httpStatusCode})`);
  }
}

// expectError runs the command and checks it fails with an instance of
// errorClass, named as the class, with HTTP status `status`.
async function expectError(command, errorClass, status, sdk = api) {
  try {
    await sdk.send(command);
  } catch (err) {
    const got = `${err.name} (instanceof ${errorClass.name}: ${err instanceof errorClass}, HTTP ${err.$metadata?.httpStatusCode}, message ${JSON.stringify(err.message)})`;
    if (err.name !== errorClass.name || !(err instanceof errorClass) || err.$metadata?.httpStatusCode !== status) {
      throw new Error(`got ${got}, want ${errorClass.name} with HTTP ${status}`);
    }
    return got;
  }
  throw new Error(`succeeded, want ${errorClass.name}`);
}

const unknownId = "AAAAAAAAAAAAAAA=";

await check("post-unknown-id", () =>
  expectError(new PostToConnectionCommand({ ConnectionId: unknownId, Data: "x" }), GoneException, 410),
);
await check("get-unknown-id", () => expectError(new GetConnectionCommand({ ConnectionId: unknownId }), GoneException, 410));
await check("post-too-large", () =>
  expectError(
    new PostToConnectionCommand({ ConnectionId: connectionId, Data: new Uint8Array(131073).fill(120) }),
    PayloadTooLargeException,
    413,
  ),
);
await check("wrong-secret", () =>
  expectError(
    new PostToConnectionCommand({ ConnectionId: connectionId, Data: "x" }),
    ForbiddenException,
    403,
    client(`${secretAccessKey}-wrong`),
  ),
);

await check("post-live", async () => {
  const out = await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: message }));
  return `HTTP ${out.$metadata.httpStatusCode}`;
});
await check("get-live", async () => {
  const out = await api.send(new GetConnectionCommand({ ConnectionId: connectionId }));
  const { ConnectedAt, LastActiveAt, Identity } = out;
  if (!(ConnectedAt instanceof Date) || !(LastActiveAt instanceof Date) || isNaN(ConnectedAt) || LastActiveAt < ConnectedAt) {
    throw new Error(`ConnectedAt ${ConnectedAt}, LastActiveAt ${LastActiveAt}`);
  }
  if (Identity?.SourceIp !== "127.0.0.1") throw new Error(`Identity ${JSON.stringify(Identity)}`);
  return `HTTP ${out.$metadata.httpStatusCode}, ConnectedAt ${ConnectedAt.toISOString()}, SourceIp ${Identity.SourceIp}`;
});
await check("delete-live", async () => {
  const out = await api.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
  return `HTTP ${out.$metadata.httpStatusCode}`;
});

process.exit(failed ? 1 : 0);
