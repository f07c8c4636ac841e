// sendmessage: {"action":"sendmessage","data":"..."} is sent to every
// connected client. Connections that have gone away are removed.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, DeleteCommand, paginateScan } from "@aws-sdk/lib-dynamodb";
import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

// The @connections endpoint: CALLBACK_URL when the API is reached through a
// custom domain, otherwise the API's own execute-api domain and stage.
function managementEndpoint({ domainName, stage }) {
  return process.env.CALLBACK_URL || `https://${domainName}/${stage}`;
}

export const handler = async (event) => {
  const tableName = process.env.TABLE_NAME;

  let data;
  try {
    data = JSON.parse(event.body).data;
  } catch {
    return { statusCode: 400, body: "Message must be JSON." };
  }
  const message = typeof data === "string" ? data : JSON.stringify(data);

  const api = new ApiGatewayManagementApiClient({ endpoint: managementEndpoint(event.requestContext) });

  const posts = [];
  for await (const page of paginateScan({ client: ddb }, { TableName: tableName, ProjectionExpression: "connectionId" })) {
    for (const { connectionId } of page.Items ?? []) {
      posts.push(
        api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: message })).catch(async (err) => {
          if (!(err instanceof GoneException)) throw err;
          console.log(`Removing stale connection ${connectionId}`);
          await ddb.send(new DeleteCommand({ TableName: tableName, Key: { connectionId } }));
        }),
      );
    }
  }
  await Promise.all(posts);

  return { statusCode: 200, body: "Data sent." };
};
