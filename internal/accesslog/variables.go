package accesslog

import (
	"slices"
	"strings"

	"github.com/switchboardgw/switchboard/internal/textdist"
)

// varID names what a $context variable renders.
type varID uint8

const (
	vLiteral varID = iota // a segment of literal text
	vNone                 // accepted, never has a value here: always "-"

	// From the event.
	vAPIID
	vConnectedAt
	vConnectionID
	vDomainName
	vEventType
	vRequestID // requestId and extendedRequestId
	vMessageID
	vRequestTime
	vRequestTimeEpoch
	vRouteKey
	vStage
	vSourceIP
	vUserAgent
	vDisconnectStatusCode
	vDisconnectReason

	// From the event's Auth.
	vIdentityAccountID
	vIdentityAPIKey
	vIdentityAPIKeyID
	vIdentityCaller
	vIdentityUser
	vIdentityUserArn
	vAuthorizerPrincipalID
	vAuthorizerProperty // authorizer.<key>: a REQUEST authorizer's context, or claims.<name> of a JWT

	// From the record.
	vStatus
	vErrorMessage
	vErrorMessageString
	vErrorResponseType
	vErrorValidation
	vAuthenticateError
	vAuthenticateLatency
	vAuthenticateStatus
	vAuthorizeError
	vAuthorizeLatency
	vAuthorizeStatus
	vAuthorizerError
	vAuthorizerLatency
	vAuthorizerStatus
	vAuthorizerIntegrationLatency
	vAuthorizerIntegrationStatus
	vAuthorizerRequestID
	vIntegrationError
	vIntegrationIntegrationStatus
	vIntegrationLatency
	vIntegrationRequestID
	vIntegrationStatus
)

// variables maps each accepted name after "$context." to what it renders:
// the WebSocket access-logging list of API Gateway's developer guide
// (websocket-api-logging), the three aliases that list's descriptions name,
// and two Switchboard extensions. authorizer.<key> is handled apart.
var variables = map[string]varID{
	"apiId":                  vAPIID,
	"connectedAt":            vConnectedAt,
	"connectionId":           vConnectionID,
	"domainName":             vDomainName,
	"eventType":              vEventType,
	"extendedRequestId":      vRequestID,
	"messageId":              vMessageID,
	"requestId":              vRequestID,
	"requestTime":            vRequestTime,
	"requestTimeEpoch":       vRequestTimeEpoch,
	"routeKey":               vRouteKey,
	"stage":                  vStage,
	"status":                 vStatus,
	"identity.sourceIp":      vSourceIP,
	"identity.userAgent":     vUserAgent,
	"identity.accountId":     vIdentityAccountID,
	"identity.apiKey":        vIdentityAPIKey,
	"identity.apiKeyId":      vIdentityAPIKeyID,
	"identity.caller":        vIdentityCaller,
	"identity.user":          vIdentityUser,
	"identity.userArn":       vIdentityUserArn,
	"authorizer.principalId": vAuthorizerPrincipalID,

	"error.message":               vErrorMessage,
	"error.messageString":         vErrorMessageString,
	"error.responseType":          vErrorResponseType,
	"error.validationErrorString": vErrorValidation,

	"authenticate.error":   vAuthenticateError,
	"authenticate.latency": vAuthenticateLatency,
	"authenticate.status":  vAuthenticateStatus,
	"authorize.error":      vAuthorizeError,
	"authorize.latency":    vAuthorizeLatency,
	"authorize.status":     vAuthorizeStatus,

	"authorizer.error":              vAuthorizerError,
	"authorizer.latency":            vAuthorizerLatency,
	"authorizer.status":             vAuthorizerStatus,
	"authorizer.integrationLatency": vAuthorizerIntegrationLatency,
	"authorizer.integrationStatus":  vAuthorizerIntegrationStatus,
	"authorizer.requestId":          vAuthorizerRequestID,

	"integration.error":             vIntegrationError,
	"integration.integrationStatus": vIntegrationIntegrationStatus,
	"integration.latency":           vIntegrationLatency,
	"integration.requestId":         vIntegrationRequestID,
	"integration.status":            vIntegrationStatus,
	"integrationLatency":            vIntegrationLatency,

	// Aliases: the guide describes integration.error, integration.requestId
	// and integration.status as "equivalent to" these.
	"integrationErrorMessage": vIntegrationError,
	"awsEndpointRequestId":    vIntegrationRequestID,
	"integrationStatus":       vIntegrationStatus,

	// Switchboard extensions: the $disconnect event's close code and reason
	// (requestContext.disconnectStatusCode/disconnectReason); "-" on other events.
	"disconnectStatusCode": vDisconnectStatusCode,
	"disconnectReason":     vDisconnectReason,

	// Accepted so that formats written for API Gateway compile, but nothing
	// here produces them: there is no AWS WAF in front of Switchboard and no
	// Amazon Cognito identity pool behind its SigV4 check.
	"waf.error":                              vNone,
	"waf.latency":                            vNone,
	"waf.status":                             vNone,
	"identity.cognitoAuthenticationProvider": vNone,
	"identity.cognitoAuthenticationType":     vNone,
	"identity.cognitoIdentityId":             vNone,
	"identity.cognitoIdentityPoolId":         vNone,
	"identity.principalOrgId":                vNone,
}

// notWebSocket lists $context variables of REST and HTTP APIs that WebSocket
// APIs do not have (API Gateway refuses them in a WebSocket stage's format).
// They get their own error message: they are what formats copied from an
// HTTP API (or the CDK's standard fields) contain.
var notWebSocket = []string{
	"accountId", "awsEndpointRequestId2", "customDomain.basePathMatched", "dataProcessed",
	"domainPrefix", "httpMethod", "identity.clientCert", "identity.vpceId", "identity.vpcId",
	"path", "protocol", "resourceId", "resourcePath", "responseLatency", "responseLength",
	"wafResponseCode", "webaclArn", "xrayTraceId",
}

// variableNames is every fixed name, sorted, for suggestions.
var variableNames = func() []string {
	names := make([]string, 0, len(variables))
	for n := range variables {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}()

// lookup resolves the name after "$context.". prop is the key of an
// authorizer.<key> property.
func lookup(name string) (id varID, prop string, ok bool) {
	if id, ok := variables[name]; ok {
		return id, "", true
	}
	if key, found := strings.CutPrefix(name, "authorizer."); found && key != "" {
		return vAuthorizerProperty, key, true
	}
	return 0, "", false
}

// suggest returns the accepted names an unknown one may have meant: the
// closest by edit distance if it is close enough, else those it is the
// first segment of ("error" for error.*), else those it is the last segment
// of ("sourceIp" for identity.sourceIp). Names that never have a value here
// are not suggested.
func suggest(name string) []string {
	lower := strings.ToLower(name)
	best, bestDist := "", len(name)+1
	for _, n := range variableNames {
		if variables[n] == vNone {
			continue
		}
		if d := textdist.Levenshtein(lower, strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	if bestDist <= max(2, len(name)/4) {
		return []string{best}
	}
	var prefixed, suffixed []string
	for _, n := range variableNames {
		ln := strings.ToLower(n)
		switch {
		case variables[n] == vNone:
		case strings.HasPrefix(ln, lower+"."):
			prefixed = append(prefixed, n)
		case strings.HasSuffix(ln, "."+lower):
			suffixed = append(suffixed, n)
		}
	}
	if len(prefixed) > 0 {
		return prefixed
	}
	return suffixed
}

// didYouMean formats suggestions as " (did you mean $context.a or $context.b?)".
func didYouMean(names []string) string {
	if len(names) == 0 {
		return ""
	}
	const most = 4
	var b strings.Builder
	b.WriteString(" (did you mean ")
	for i, n := range names[:min(len(names), most)] {
		switch {
		case i == 0:
		case i == len(names)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString("$context." + n)
	}
	if len(names) > most {
		b.WriteString(", ...")
	}
	b.WriteString("?)")
	return b.String()
}
