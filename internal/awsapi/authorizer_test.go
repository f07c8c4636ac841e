package awsapi

import (
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

const testMethodARN = "arn:aws:execute-api:us-east-1:123456789012:gy415nuibc/prod/$connect"

func connectEvent() Event {
	e := baseEvent(Connect)
	e.RouteKey = "$connect"
	e.Headers = []Header{{"Host", "127.0.0.1:8080"}, {"Sec-WebSocket-Key", "k"}, {"HeaderAuth1", "v1"}, {"headerauth1", "v2"}}
	e.Query = url.Values{"token": {"a", "b"}, "room": {"lobby"}}
	e.StageVariables = map[string]string{"StageVar1": "stageValue1"}
	return e
}

func decodeAuthorizerRequest(t *testing.T, e *Event) (events.APIGatewayCustomAuthorizerRequestTypeRequest, map[string]any) {
	t.Helper()
	raw := AppendAuthorizerRequest(nil, e, testMethodARN)
	var typed events.APIGatewayCustomAuthorizerRequestTypeRequest
	if err := json.Unmarshal(raw, &typed); err != nil {
		t.Fatalf("not valid JSON for aws-lambda-go's APIGatewayCustomAuthorizerRequestTypeRequest: %v\n%s", err, raw)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	return typed, generic
}

func TestConnectMethodARN(t *testing.T) {
	got := ConnectMethodARN("us-east-1", "123456789012", "abcdef123", "default")
	if want := "arn:aws:execute-api:us-east-1:123456789012:abcdef123/default/$connect"; got != want {
		t.Errorf("ConnectMethodARN = %q, want %q", got, want)
	}
}

func TestAuthorizerRequest(t *testing.T) {
	e := connectEvent()
	typed, generic := decodeAuthorizerRequest(t, &e)
	if typed.Type != "REQUEST" || typed.MethodArn != testMethodARN {
		t.Errorf("type %q methodArn %q", typed.Type, typed.MethodArn)
	}
	if typed.Headers["Host"] != "127.0.0.1:8080" || typed.Headers["HeaderAuth1"] != "v2" || len(typed.Headers) != 3 {
		t.Errorf("headers keep the first spelling and the last value: %v", typed.Headers)
	}
	if got := typed.MultiValueHeaders["HeaderAuth1"]; !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("multiValueHeaders[HeaderAuth1] = %v", got)
	}
	if typed.QueryStringParameters["token"] != "b" || typed.QueryStringParameters["room"] != "lobby" ||
		!slices.Equal(typed.MultiValueQueryStringParameters["token"], []string{"a", "b"}) {
		t.Errorf("query = %v / %v", typed.QueryStringParameters, typed.MultiValueQueryStringParameters)
	}
	if !reflect.DeepEqual(typed.StageVariables, e.StageVariables) {
		t.Errorf("stageVariables = %v", typed.StageVariables)
	}
	rc := typed.RequestContext
	if rc.APIID != "gy415nuibc" || rc.Stage != "prod" || rc.RequestID != e.RequestID || rc.Identity.SourceIP != "49.105.91.154" {
		t.Errorf("requestContext = %+v", rc)
	}
	if typed.PathParameters != nil || typed.Resource != "" || typed.Path != "" || typed.HTTPMethod != "" {
		t.Errorf("REST-only fields present: %+v", typed)
	}

	// The WebSocket requestContext fields aws-lambda-go's type lacks.
	ctx := generic["requestContext"].(map[string]any)
	wantCtx := map[string]any{
		"routeKey": "$connect", "eventType": "CONNECT", "extendedRequestId": e.RequestID,
		"requestTime": "20/Jan/2024:11:55:00 +0000", "messageDirection": "IN", "connectionId": e.ConnectionID,
		"domainName": "127.0.0.1:8080", "connectedAt": float64(e.ConnectedAt), "requestTimeEpoch": float64(e.RequestTime),
	}
	for k, want := range wantCtx {
		if got := ctx[k]; got != want {
			t.Errorf("requestContext.%s = %v, want %v", k, got, want)
		}
	}

	// The requestContext is the CONNECT event's, byte for byte.
	var connect map[string]any
	if err := json.Unmarshal(e.AppendJSON(nil), &connect); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(connect["requestContext"], generic["requestContext"]) {
		t.Errorf("requestContext differs from the CONNECT event's:\n%v\n%v", generic["requestContext"], connect["requestContext"])
	}
	for _, k := range []string{"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters", "stageVariables"} {
		if !reflect.DeepEqual(connect[k], generic[k]) {
			t.Errorf("%s differs from the CONNECT event's: %v vs %v", k, generic[k], connect[k])
		}
	}
}

// TestAuthorizerRequestKeys is the golden key set of the event and its
// requestContext, as in API Gateway's documented WebSocket example.
func TestAuthorizerRequestKeys(t *testing.T) {
	e := connectEvent()
	e.UserAgent = "" // the documented example's identity has only sourceIp
	_, generic := decodeAuthorizerRequest(t, &e)
	wantTop := []string{"headers", "methodArn", "multiValueHeaders", "multiValueQueryStringParameters",
		"queryStringParameters", "requestContext", "stageVariables", "type"}
	if got := sortedKeys(generic); !slices.Equal(got, wantTop) {
		t.Errorf("keys = %v\nwant   %v", got, wantTop)
	}
	wantCtx := []string{"apiId", "connectedAt", "connectionId", "domainName", "eventType", "extendedRequestId",
		"identity", "messageDirection", "requestId", "requestTime", "requestTimeEpoch", "routeKey", "stage"}
	ctx := generic["requestContext"].(map[string]any)
	if got := sortedKeys(ctx); !slices.Equal(got, wantCtx) {
		t.Errorf("requestContext keys = %v\nwant                 %v", got, wantCtx)
	}
	if got := sortedKeys(ctx["identity"].(map[string]any)); !slices.Equal(got, []string{"sourceIp"}) {
		t.Errorf("identity keys = %v", got)
	}
}

// TestAuthorizerRequestEmpty: without a query string or stage variables
// the keys are still there, as empty objects.
func TestAuthorizerRequestEmpty(t *testing.T) {
	e := connectEvent()
	e.Query, e.StageVariables, e.Headers = nil, nil, nil
	raw := AppendAuthorizerRequest(nil, &e, testMethodARN)
	_, generic := decodeAuthorizerRequest(t, &e)
	for _, k := range []string{"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters", "stageVariables"} {
		if m, ok := generic[k].(map[string]any); !ok || len(m) != 0 {
			t.Errorf("%s = %#v, want {} in %s", k, generic[k], raw)
		}
	}
}

func TestAuthorizerRequestAppends(t *testing.T) {
	e := connectEvent()
	prefix := []byte("prefix")
	got := AppendAuthorizerRequest(prefix, &e, testMethodARN)
	if string(got[:len(prefix)]) != "prefix" || !json.Valid(got[len(prefix):]) {
		t.Errorf("AppendAuthorizerRequest does not append valid JSON: %s", got)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
