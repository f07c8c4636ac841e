// Starts an in-memory DynamoDB (dynalite) on 127.0.0.1 at a free port,
// creates the table TABLE_NAME (hash key connectionId, a string) and prints
// "dynamodb listening on http://127.0.0.1:PORT". Runs until killed.
import { createRequire } from "node:module";
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from "@aws-sdk/client-dynamodb";

const dynalite = createRequire(import.meta.url)("dynalite");
const tableName = process.env.TABLE_NAME;
if (!tableName) {
  console.error("dynamodb.mjs: set TABLE_NAME");
  process.exit(2);
}

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
const endpoint = `http://127.0.0.1:${server.address().port}`;

const ddb = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
await ddb.send(
  new CreateTableCommand({
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: "connectionId", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "connectionId", KeyType: "HASH" }],
    BillingMode: "PAY_PER_REQUEST",
  }),
);
await waitUntilTableExists({ client: ddb, maxWaitTime: 10, minDelay: 1 }, { TableName: tableName });

console.log(`dynamodb listening on ${endpoint}`);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
