package awsapi

// ConnectMethodARN is the methodArn a WebSocket API's REQUEST authorizer
// receives: the $connect route of one stage. Unlike a REST API's, it names
// no HTTP method:
//
//	arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/$connect
func ConnectMethodARN(region, accountID, apiID, stage string) string {
	return "arn:aws:execute-api:" + region + ":" + accountID + ":" + apiID + "/" + stage + "/$connect"
}

// AppendAuthorizerRequest appends to dst the event a REQUEST authorizer
// receives for ev, the CONNECT event of the handshake being authorized, as
// API Gateway shapes it for WebSocket APIs:
//
//	{"type":"REQUEST","methodArn":...,"headers":{...},"multiValueHeaders":{...},
//	 "queryStringParameters":{...},"multiValueQueryStringParameters":{...},
//	 "stageVariables":{...},"requestContext":{...}}
//
// Headers, query string and requestContext are written exactly as in the
// CONNECT event (header names keep the client's spelling). Unlike the
// CONNECT event, the query string parameters and stage variables are
// always present, as empty objects when there are none, and there is no
// body and no isBase64Encoded.
func AppendAuthorizerRequest(dst []byte, ev *Event, methodARN string) []byte {
	dst = append(dst, `{"type":"REQUEST","methodArn":`...)
	dst = AppendJSONString(dst, methodARN)
	dst = append(dst, ',')
	dst = appendHeaders(dst, ev.Headers)
	dst = append(dst, ',')
	dst = appendQuery(dst, ev.Query)
	dst = append(dst, `,"stageVariables":`...)
	dst = appendStringMap(dst, ev.StageVariables)
	dst = append(dst, `,"requestContext":`...)
	dst = ev.appendRequestContext(dst)
	return append(dst, '}')
}
