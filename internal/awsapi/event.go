// Package awsapi holds the AWS wire shapes Switchboard speaks: Lambda proxy
// events and responses, the gateway's error frames, Lambda ARNs and the
// management API's error bodies. It does no I/O.
package awsapi

import (
	"encoding/base64"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// EventType is requestContext.eventType.
type EventType uint8

// Event types.
const (
	Connect EventType = iota + 1
	Message
	Disconnect
)

func (t EventType) String() string {
	switch t {
	case Connect:
		return "CONNECT"
	case Message:
		return "MESSAGE"
	case Disconnect:
		return "DISCONNECT"
	}
	return "UNKNOWN"
}

// Header is one request header with the client's own spelling of its name.
type Header struct{ Name, Value string }

// Event is one Lambda proxy event: the $connect handshake, a message, or a
// disconnect. Its JSON (AppendJSON) is what AWS_PROXY integrations receive,
// shaped as API Gateway shapes it for each event type.
type Event struct {
	Type         EventType
	RouteKey     string
	ConnectionID string
	RequestID    string
	MessageID    string // MESSAGE only
	// ConnectedAt and RequestTime are in Unix milliseconds.
	ConnectedAt int64
	RequestTime int64
	Stage       string
	APIID       string
	DomainName  string
	SourceIP    string
	UserAgent   string
	// Headers and Query are the upgrade request's, on CONNECT only.
	Headers []Header
	Query   url.Values
	// StageVariables appear on every event when the stage defines any.
	StageVariables map[string]string
	// Body is the message, MESSAGE only; base64-encoded in JSON when
	// IsBase64Encoded (binary frames, when allowed).
	Body            []byte
	IsBase64Encoded bool
	// DisconnectStatusCode and DisconnectReason are the close code and
	// reason, DISCONNECT only.
	DisconnectStatusCode int
	DisconnectReason     string
	// Auth is what authorization established at $connect; nil if none.
	Auth *Auth
}

// RequestTimeCLF formats t (Unix ms) as API Gateway's requestTime:
// 20/Jan/2024:11:55:00 +0000.
func RequestTimeCLF(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("02/Jan/2006:15:04:05 -0700")
}

// disconnectHeaders are the fixed headers API Gateway puts on $disconnect.
var disconnectHeaderNames = []string{"x-api-key", "X-Forwarded-For", "x-restapi"}

// AppendJSON appends the event's JSON to dst.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	switch e.Type {
	case Connect:
		dst = appendHeaders(dst, e.Headers)
		dst = append(dst, ',')
		if len(e.Query) > 0 {
			dst = appendQuery(dst, e.Query)
			dst = append(dst, ',')
		}
	case Disconnect:
		hs := make([]Header, 0, 4)
		hs = append(hs, Header{"Host", e.DomainName})
		for _, n := range disconnectHeaderNames {
			hs = append(hs, Header{n, ""})
		}
		dst = appendHeaders(dst, hs)
		dst = append(dst, ',')
	}
	if len(e.StageVariables) > 0 {
		dst = append(dst, `"stageVariables":`...)
		dst = appendStringMap(dst, e.StageVariables)
		dst = append(dst, ',')
	}
	dst = append(dst, `"requestContext":`...)
	dst = e.appendRequestContext(dst)
	if e.Type == Message {
		dst = append(dst, `,"body":`...)
		if e.IsBase64Encoded {
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, e.Body)
			dst = append(dst, '"')
		} else {
			dst = AppendJSONBytes(dst, e.Body)
		}
	}
	dst = append(dst, `,"isBase64Encoded":`...)
	dst = strconv.AppendBool(dst, e.IsBase64Encoded)
	return append(dst, '}')
}

func (e *Event) appendRequestContext(dst []byte) []byte {
	dst = append(dst, `{"routeKey":`...)
	dst = AppendJSONString(dst, e.RouteKey)
	if e.Auth != nil {
		dst = e.Auth.appendAuthorizer(dst)
	}
	if e.Type == Message {
		dst = append(dst, `,"messageId":`...)
		dst = AppendJSONString(dst, e.MessageID)
	}
	dst = append(dst, `,"eventType":"`...)
	dst = append(dst, e.Type.String()...)
	dst = append(dst, `","extendedRequestId":`...)
	dst = AppendJSONString(dst, e.RequestID)
	dst = append(dst, `,"requestTime":"`...)
	dst = time.UnixMilli(e.RequestTime).UTC().AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
	dst = append(dst, `","messageDirection":"IN"`...)
	if e.Type == Disconnect {
		dst = append(dst, `,"disconnectStatusCode":`...)
		dst = strconv.AppendInt(dst, int64(e.DisconnectStatusCode), 10)
		dst = append(dst, `,"disconnectReason":`...)
		dst = AppendJSONString(dst, e.DisconnectReason)
	}
	dst = append(dst, `,"stage":`...)
	dst = AppendJSONString(dst, e.Stage)
	dst = append(dst, `,"connectedAt":`...)
	dst = strconv.AppendInt(dst, e.ConnectedAt, 10)
	dst = append(dst, `,"requestTimeEpoch":`...)
	dst = strconv.AppendInt(dst, e.RequestTime, 10)
	dst = append(dst, `,"identity":{`...)
	if e.Auth != nil {
		dst = e.Auth.appendIdentity(dst)
	}
	if e.UserAgent != "" {
		dst = append(dst, `"userAgent":`...)
		dst = AppendJSONString(dst, e.UserAgent)
		dst = append(dst, ',')
	}
	dst = append(dst, `"sourceIp":`...)
	dst = AppendJSONString(dst, e.SourceIP)
	dst = append(dst, `},"requestId":`...)
	dst = AppendJSONString(dst, e.RequestID)
	dst = append(dst, `,"domainName":`...)
	dst = AppendJSONString(dst, e.DomainName)
	dst = append(dst, `,"connectionId":`...)
	dst = AppendJSONString(dst, e.ConnectionID)
	dst = append(dst, `,"apiId":`...)
	dst = AppendJSONString(dst, e.APIID)
	return append(dst, '}')
}

// appendHeaders writes "headers" (last value per name) and
// "multiValueHeaders" (all values). Names compare case-insensitively and
// keep the spelling of their first appearance.
func appendHeaders(dst []byte, hs []Header) []byte {
	type group struct {
		name   string
		values []string
	}
	groups := make([]group, 0, len(hs))
	index := make(map[string]int, len(hs))
	for _, h := range hs {
		key := textproto.CanonicalMIMEHeaderKey(h.Name)
		if i, ok := index[key]; ok {
			groups[i].values = append(groups[i].values, h.Value)
			continue
		}
		index[key] = len(groups)
		groups = append(groups, group{h.Name, []string{h.Value}})
	}
	dst = append(dst, `"headers":{`...)
	for i, g := range groups {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, g.name)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, g.values[len(g.values)-1])
	}
	dst = append(dst, `},"multiValueHeaders":{`...)
	for i, g := range groups {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, g.name)
		dst = append(dst, ':')
		dst = appendStringList(dst, g.values)
	}
	return append(dst, '}')
}

func appendQuery(dst []byte, q url.Values) []byte {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, `"queryStringParameters":{`...)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, k)
		dst = append(dst, ':')
		vs := q[k]
		dst = AppendJSONString(dst, vs[len(vs)-1])
	}
	dst = append(dst, `},"multiValueQueryStringParameters":{`...)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendStringList(dst, q[k])
	}
	return append(dst, '}')
}

func appendStringMap(dst []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, k)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, m[k])
	}
	return append(dst, '}')
}

func appendStringList(dst []byte, vs []string) []byte {
	dst = append(dst, '[')
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, v)
	}
	return append(dst, ']')
}

// Context resolves the names of $context.X (templates and request
// parameter mapping) for this event.
func (e *Event) Context(name string) (string, bool) {
	switch name {
	case "connectionId":
		return e.ConnectionID, true
	case "requestId", "extendedRequestId":
		return e.RequestID, true
	case "messageId":
		return e.MessageID, e.Type == Message
	case "routeKey":
		return e.RouteKey, true
	case "eventType":
		return e.Type.String(), true
	case "stage":
		return e.Stage, true
	case "apiId":
		return e.APIID, true
	case "domainName":
		return e.DomainName, true
	case "connectedAt":
		return strconv.FormatInt(e.ConnectedAt, 10), true
	case "requestTime":
		return RequestTimeCLF(e.RequestTime), true
	case "requestTimeEpoch":
		return strconv.FormatInt(e.RequestTime, 10), true
	case "messageDirection":
		return "IN", true
	case "identity.sourceIp":
		return e.SourceIP, true
	case "identity.userAgent":
		return e.UserAgent, true
	case "disconnectStatusCode":
		return strconv.Itoa(e.DisconnectStatusCode), e.Type == Disconnect
	case "disconnectReason":
		return e.DisconnectReason, e.Type == Disconnect
	}
	if e.Auth != nil {
		return e.Auth.context(name)
	}
	return "", false
}
