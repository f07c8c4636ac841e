// $connect: remember the new connection.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = async (event) => {
  await ddb.send(
    new PutCommand({
      TableName: process.env.TABLE_NAME,
      Item: { connectionId: event.requestContext.connectionId },
    }),
  );
  return { statusCode: 200, body: "Connected." };
};
