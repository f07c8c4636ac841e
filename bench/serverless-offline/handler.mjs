// Echo handler for the serverless-offline baseline.
// CONNECT / DISCONNECT: accept. MESSAGE: return the message body; the $default
// route's routeResponseSelectionExpression ($default) makes API Gateway (and
// serverless-offline) send that body back to the sender.
//
// Branch on eventType, not routeKey: for a message whose action matches no
// route, serverless-offline 13 passes the unmatched action (e.g. "x") as
// requestContext.routeKey, where AWS passes "$default".
export const handler = async (event) => {
  if (event.requestContext.eventType === "MESSAGE") {
    return { statusCode: 200, body: event.body };
  }
  return { statusCode: 200 };
};
