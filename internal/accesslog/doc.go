// Package accesslog writes API Gateway–style access logs: one line per
// handshake, message and disconnect, shaped by a stage's format of $context
// variables (AccessLogSettings.Format). Compile turns a format into a Format
// once; Format.Append renders a Record (the request's awsapi.Event and what
// the gateway learned handling it) without allocating; a Writer buffers
// lines and writes them to a file or stdout from one goroutine, dropping and
// counting lines rather than blocking the gateway when the destination falls
// behind.
//
// The destination changes without waiting for that goroutine, which may be
// stuck in a write to a full pipe or a failing disk: OpenTarget opens the
// new destination (the step that can fail, done first), and Writer.Retarget
// hands it over (given a fresh Target, it fails only on a closed Writer),
// recording under the buffer's mutex where in the pending lines the switch
// falls. The goroutine writes the lines accepted before that point to the
// old destination, then switches, closes the old file if the Writer opened
// it, and writes the later lines to the new one: each destination gets
// exactly the lines accepted while it was the latest.
// Writer.Reopen, for log rotation, is OpenTarget of the current path then
// Retarget. Only Flush and Close wait for the goroutine.
//
// # Syntax
//
// A format is one line of text (3 KiB at most) with $context.NAME variables,
// and must include $context.requestId or $context.extendedRequestId, as API
// Gateway requires. ${context.NAME} delimits a variable explicitly: a
// Switchboard extension (API Gateway documents only the bare form), with the
// braces of selection expressions, for a variable followed by a letter or an
// authorizer key with characters such as '-'. A '$' not followed by a letter
// or '{' is text; $anything-else is an error, since access logs have only
// $context variables.
//
// # Variables
//
// The names are those of API Gateway's WebSocket access logging (developer
// guide, websocket-api-logging). A value that is missing or empty renders as
// "-", as API Gateway renders it.
//
//	$context.apiId                         Event.APIID
//	$context.connectedAt                   Event.ConnectedAt (Unix ms)
//	$context.connectionId                  Event.ConnectionID
//	$context.domainName                    Event.DomainName
//	$context.eventType                     Event.Type: CONNECT, MESSAGE, DISCONNECT
//	$context.extendedRequestId             Event.RequestID (the same id as requestId, as on AWS)
//	$context.requestId                     Event.RequestID
//	$context.messageId                     Event.MessageID, MESSAGE only
//	$context.requestTime                   Event.RequestTime, CLF: 20/Jan/2024:11:55:00 +0000
//	$context.requestTimeEpoch              Event.RequestTime (Unix ms)
//	$context.routeKey                      Event.RouteKey
//	$context.stage                         Event.Stage
//	$context.identity.sourceIp             Event.SourceIP
//	$context.identity.userAgent            Event.UserAgent
//	$context.identity.accountId            Event.Auth.AccountID (SigV4)
//	$context.identity.apiKey               Event.Auth.APIKey
//	$context.identity.apiKeyId             Event.Auth.APIKeyID
//	$context.identity.caller               Event.Auth.Caller (SigV4)
//	$context.identity.user                 Event.Auth.User (SigV4)
//	$context.identity.userArn              Event.Auth.UserArn (SigV4)
//	$context.authorizer.principalId        Event.Auth.Custom.PrincipalID
//	$context.authorizer.<key>              Event.Auth.Custom.Context[key]; with a JWT
//	                                       authorizer, claims.<name> is Event.Auth.JWT.Claims[name]
//	$context.status                        Record.Status
//	$context.error.message                 Record.Error.Message
//	$context.error.messageString           Record.Error.Message in double quotes ("-" when empty)
//	$context.error.responseType            Record.Error.ResponseType
//	$context.error.validationErrorString   Record.Error.ValidationError
//	$context.authenticate.error|latency|status   Record.Authenticate
//	$context.authorize.error|latency|status      Record.Authorize
//	$context.authorizer.error|latency|status     Record.Authorizer (the Step)
//	$context.authorizer.integrationLatency Record.Authorizer.IntegrationLatency; on CONNECT,
//	                                       if zero, Event.Auth.Custom.IntegrationLatency
//	$context.authorizer.integrationStatus  Record.Authorizer.IntegrationStatus
//	$context.authorizer.requestId          Record.Authorizer.RequestID
//	$context.integration.error             Record.Integration.Error
//	$context.integration.integrationStatus Record.Integration.IntegrationStatus
//	$context.integration.latency           Record.Integration.Latency (ms)
//	$context.integration.requestId         Record.Integration.RequestID
//	$context.integration.status            Record.Integration.Status
//	$context.integrationLatency            Record.Integration.Latency (ms)
//
// Aliases that the guide's descriptions name as equivalent:
// $context.integrationErrorMessage (integration.error),
// $context.awsEndpointRequestId (integration.requestId) and
// $context.integrationStatus (integration.status).
//
// Switchboard extensions, "-" except on DISCONNECT:
// $context.disconnectStatusCode (Event.DisconnectStatusCode) and
// $context.disconnectReason (Event.DisconnectReason).
//
// Always "-" (accepted so that formats written for API Gateway compile, but
// nothing produces them in front of or behind Switchboard): $context.waf.error,
// waf.latency, waf.status, identity.cognitoAuthenticationProvider,
// identity.cognitoAuthenticationType, identity.cognitoIdentityId,
// identity.cognitoIdentityPoolId and identity.principalOrgId.
//
// Any other name is a compile error, with a suggestion when a known name is
// close; REST and HTTP API variables ($context.httpMethod,
// $context.responseLength, ...) get an error saying WebSocket APIs do not
// have them (API Gateway refuses the variables a type of API lacks). A
// $context.authorizer.<key> is
// accepted for any key, since keys are the authorizer's to choose.
//
// # Escaping
//
// API Gateway substitutes values verbatim, so a quote in a user agent or a
// newline in an error message breaks a JSON line or splits a text one.
// Switchboard escapes values instead: every line is one line, and a JSON
// format's lines are valid JSON whatever the values hold.
//
//   - A JSON format (one starting with '{' and ending with '}') is tracked
//     string by string. Inside a string ("ip":"$context.identity.sourceIp")
//     a value is escaped as JSON string content; missing is "-". Outside any
//     string ("latency":$context.integrationLatency) numbers are written bare,
//     strings as JSON strings, and missing as null where API Gateway writes
//     an invalid bare "-".
//   - In a text format (CLF and the like) values are escaped the same way
//     (\" \\ \n \t \u00XX), so quoted fields stay quoted.
//   - $context.error.messageString is the message in double quotes, meant
//     for use outside a string: "error":$context.error.messageString. Inside
//     a JSON string its quotes are escaped too.
package accesslog
