// Reads or writes the table TABLE_NAME in the DynamoDB at
// AWS_ENDPOINT_URL_DYNAMODB, as an operator would with the AWS CLI:
//   node table.mjs scan      prints every connectionId as a sorted JSON array
//   node table.mjs put ID    adds the item {connectionId: ID}
import { DynamoDBClient, PutItemCommand, paginateScan } from "@aws-sdk/client-dynamodb";

const ddb = new DynamoDBClient({});
const TableName = process.env.TABLE_NAME;
const [command, id] = process.argv.slice(2);

if (command === "scan") {
  const ids = [];
  for await (const page of paginateScan({ client: ddb }, { TableName })) {
    for (const item of page.Items ?? []) ids.push(item.connectionId.S);
  }
  console.log(JSON.stringify(ids.sort()));
} else if (command === "put" && id) {
  await ddb.send(new PutItemCommand({ TableName, Item: { connectionId: { S: id } } }));
} else {
  console.error("usage: node table.mjs scan | put CONNECTION_ID");
  process.exit(2);
}
