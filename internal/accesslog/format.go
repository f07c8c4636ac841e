package accesslog

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/textdist"
)

// MaxFormatBytes is the largest format Compile accepts: API Gateway's limit
// on an access-log template, 3 KiB.
const MaxFormatBytes = 3 << 10

// DefaultFormat is the JSON format API Gateway's console proposes for a
// WebSocket stage.
const DefaultFormat = `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",` +
	`"caller":"$context.identity.caller","user":"$context.identity.user",` +
	`"requestTime":"$context.requestTime","eventType":"$context.eventType",` +
	`"routeKey":"$context.routeKey","status":"$context.status","connectionId":"$context.connectionId"}`

// Format is a compiled access-log format: literal text and variables,
// rendered by Append. It is immutable and safe for concurrent use.
type Format struct {
	src  string
	segs []segment
	json bool
}

// mode says how a variable's value is written where it stands.
type mode uint8

const (
	// modeText: a text format. Values are escaped as inside a JSON string
	// (so a line stays one line and quoted fields stay quoted); missing is "-".
	modeText mode = iota
	// modeJSONString: inside a string of a JSON format. Values are escaped;
	// missing is "-".
	modeJSONString
	// modeJSONValue: outside any string of a JSON format. Numbers are bare,
	// strings are written as JSON strings, missing is null.
	modeJSONValue
)

type segment struct {
	id   varID
	mode mode
	text string // literal text, or an authorizer property's key
}

// Compile parses an access-log format: text with $context variables, as in
// an API Gateway stage's AccessLogSettings.Format.
//
// A variable is $context.NAME, NAME running over letters, digits, '_' and
// '.' followed by one of those; ${context.NAME} delimits one explicitly (a
// Switchboard extension, as in selection expressions, for a variable
// followed by a letter, or an authorizer key with other characters). A '$'
// not followed by a letter or '{' is literal text. Any other $name is an
// error, as is an unknown NAME (with a suggestion when one is close).
//
// Like API Gateway, Compile requires $context.requestId (or the same id as
// $context.extendedRequestId), a format of at most MaxFormatBytes, and a
// single line: one trailing newline is allowed and dropped.
//
// A format that starts with '{' and ends with '}' (spaces aside) is a JSON
// format: its lines stay valid JSON whatever the values hold (see the
// package documentation).
func Compile(src string) (*Format, error) {
	if len(src) > MaxFormatBytes {
		return nil, fmt.Errorf("format is %d bytes; the limit is %d (3 KiB, as in API Gateway)", len(src), MaxFormatBytes)
	}
	return parse(src)
}

// parse is Compile without the size limit.
func parse(src string) (*Format, error) {
	body := strings.TrimSuffix(strings.TrimSuffix(src, "\n"), "\r")
	if i := strings.IndexAny(body, "\r\n"); i >= 0 {
		return nil, fmt.Errorf("format must be a single line: line break at offset %d (one is allowed only at the end)", i)
	}
	trimmed := strings.TrimSpace(body)
	f := &Format{src: src, json: len(trimmed) >= 2 && trimmed[0] == '{' && trimmed[len(trimmed)-1] == '}'}

	var text strings.Builder
	inString, escaped := false, false // JSON string state of the literal text so far
	flush := func() {
		if text.Len() > 0 {
			f.segs = append(f.segs, segment{id: vLiteral, text: text.String()})
			text.Reset()
		}
	}
	addVar := func(name string, at int) error {
		id, prop, err := compileVar(name, at)
		if err != nil {
			return err
		}
		m := modeText
		if f.json {
			m = modeJSONValue
			if inString {
				m = modeJSONString
			}
		}
		flush()
		f.segs = append(f.segs, segment{id: id, mode: m, text: prop})
		escaped = false
		return nil
	}
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == '$' && i+1 < len(body) && body[i+1] == '{':
			end := strings.IndexByte(body[i+2:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ${ at offset %d", i)
			}
			if err := addVar(body[i+2:i+2+end], i); err != nil {
				return nil, err
			}
			i += 2 + end + 1
		case c == '$' && i+1 < len(body) && isLetter(body[i+1]):
			j := scanName(body, i+1)
			if err := addVar(body[i+1:j], i); err != nil {
				return nil, err
			}
			i = j
		default:
			text.WriteByte(c)
			switch {
			case escaped:
				escaped = false
			case inString && c == '\\':
				escaped = true
			case c == '"':
				inString = !inString
			}
			i++
		}
	}
	flush()
	if !slices.ContainsFunc(f.segs, func(s segment) bool { return s.id == vRequestID }) {
		return nil, errors.New("format must include $context.requestId (or $context.extendedRequestId), as API Gateway requires")
	}
	return f, nil
}

// MustCompile is Compile that panics; for formats fixed in code.
func MustCompile(src string) *Format {
	f, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return f
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isNameByte(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' || c == '_' }

// scanName returns the end of an unbraced variable name starting at i.
func scanName(s string, i int) int {
	for i < len(s) {
		switch c := s[i]; {
		case isNameByte(c):
			i++
		case c == '.' && i+1 < len(s) && isNameByte(s[i+1]):
			i++
		default:
			return i
		}
	}
	return i
}

// compileVar resolves the name of a variable found at offset at.
func compileVar(name string, at int) (varID, string, error) {
	rest, ok := strings.CutPrefix(name, "context.")
	if !ok {
		if name == "context" {
			return 0, "", fmt.Errorf("$context at offset %d needs a variable name, e.g. $context.requestId", at)
		}
		head, tail, _ := strings.Cut(name, ".")
		if tail != "" && textdist.Levenshtein(strings.ToLower(head), "context") <= 2 {
			return 0, "", fmt.Errorf("unknown variable $%s at offset %d (did you mean $context.%s?)", name, at, tail)
		}
		return 0, "", fmt.Errorf("unknown variable $%s at offset %d: access-log formats have only $context variables", name, at)
	}
	if id, prop, ok := lookup(rest); ok {
		return id, prop, nil
	}
	for _, n := range notWebSocket {
		if rest == n || strings.HasPrefix(rest, n+".") {
			return 0, "", fmt.Errorf("$context.%s at offset %d is a REST/HTTP API variable; WebSocket APIs do not have it", rest, at)
		}
	}
	return 0, "", fmt.Errorf("unknown variable $context.%s at offset %d%s", rest, at, didYouMean(suggest(rest)))
}

// String returns the format's source text.
func (f *Format) String() string { return f.src }

// JSON reports whether f is a JSON format, whose values are written so that
// lines stay valid JSON.
func (f *Format) JSON() bool { return f.json }

// noEvent stands in for a record without an event: every field is empty.
var noEvent awsapi.Event

// Append appends the line rec renders to, without a newline, to dst. It
// allocates nothing beyond growing dst.
func (f *Format) Append(dst []byte, rec *Record) []byte {
	e := rec.Event
	if e == nil {
		e = &noEvent
	}
	for i := range f.segs {
		s := &f.segs[i]
		switch s.id {
		case vLiteral:
			dst = append(dst, s.text...)
		case vNone:
			dst = s.missing(dst)

		case vAPIID:
			dst = s.str(dst, e.APIID)
		case vConnectedAt:
			dst = s.num(dst, e.ConnectedAt, e.ConnectedAt != 0)
		case vConnectionID:
			dst = s.str(dst, e.ConnectionID)
		case vDomainName:
			dst = s.str(dst, e.DomainName)
		case vEventType:
			if e.Type == 0 {
				dst = s.missing(dst)
			} else {
				dst = s.str(dst, e.Type.String())
			}
		case vRequestID:
			dst = s.str(dst, e.RequestID)
		case vMessageID:
			dst = s.str(dst, onlyOn(e, awsapi.Message, e.MessageID))
		case vRequestTime:
			dst = s.requestTime(dst, e.RequestTime)
		case vRequestTimeEpoch:
			dst = s.num(dst, e.RequestTime, e.RequestTime != 0)
		case vRouteKey:
			dst = s.str(dst, e.RouteKey)
		case vStage:
			dst = s.str(dst, e.Stage)
		case vSourceIP:
			dst = s.str(dst, e.SourceIP)
		case vUserAgent:
			dst = s.str(dst, e.UserAgent)
		case vDisconnectStatusCode:
			dst = s.num(dst, int64(e.DisconnectStatusCode), e.Type == awsapi.Disconnect && e.DisconnectStatusCode != 0)
		case vDisconnectReason:
			dst = s.str(dst, onlyOn(e, awsapi.Disconnect, e.DisconnectReason))

		case vIdentityAccountID, vIdentityAPIKey, vIdentityAPIKeyID, vIdentityCaller, vIdentityUser, vIdentityUserArn:
			dst = s.str(dst, identity(e.Auth, s.id))
		case vAuthorizerPrincipalID:
			var v string
			if e.Auth != nil && e.Auth.Custom != nil {
				v = e.Auth.Custom.PrincipalID
			}
			dst = s.str(dst, v)
		case vAuthorizerProperty:
			dst = s.str(dst, authorizerProperty(e.Auth, s.text))

		case vStatus:
			dst = s.status(dst, rec.Status)
		case vErrorMessage:
			dst = s.str(dst, rec.Error.Message)
		case vErrorMessageString:
			dst = s.quoted(dst, rec.Error.Message)
		case vErrorResponseType:
			dst = s.str(dst, rec.Error.ResponseType)
		case vErrorValidation:
			dst = s.str(dst, rec.Error.ValidationError)

		case vAuthenticateError:
			dst = s.str(dst, rec.Authenticate.Error)
		case vAuthenticateLatency:
			dst = s.millis(dst, rec.Authenticate.Latency)
		case vAuthenticateStatus:
			dst = s.status(dst, rec.Authenticate.Status)
		case vAuthorizeError:
			dst = s.str(dst, rec.Authorize.Error)
		case vAuthorizeLatency:
			dst = s.millis(dst, rec.Authorize.Latency)
		case vAuthorizeStatus:
			dst = s.status(dst, rec.Authorize.Status)

		case vAuthorizerError:
			dst = s.str(dst, rec.Authorizer.Error)
		case vAuthorizerLatency:
			dst = s.millis(dst, rec.Authorizer.Latency)
		case vAuthorizerStatus:
			dst = s.status(dst, rec.Authorizer.Status)
		case vAuthorizerIntegrationLatency:
			d := rec.Authorizer.IntegrationLatency
			if d == 0 && e.Type == awsapi.Connect && e.Auth != nil && e.Auth.Custom != nil {
				dst = s.num(dst, e.Auth.Custom.IntegrationLatency, true)
				break
			}
			dst = s.millis(dst, d)
		case vAuthorizerIntegrationStatus:
			dst = s.status(dst, rec.Authorizer.IntegrationStatus)
		case vAuthorizerRequestID:
			dst = s.str(dst, rec.Authorizer.RequestID)

		case vIntegrationError:
			dst = s.str(dst, rec.Integration.Error)
		case vIntegrationIntegrationStatus:
			dst = s.status(dst, rec.Integration.IntegrationStatus)
		case vIntegrationLatency:
			dst = s.millis(dst, rec.Integration.Latency)
		case vIntegrationRequestID:
			dst = s.str(dst, rec.Integration.RequestID)
		case vIntegrationStatus:
			dst = s.status(dst, rec.Integration.Status)
		}
	}
	return dst
}

// onlyOn returns v when e is of type t, else "".
func onlyOn(e *awsapi.Event, t awsapi.EventType, v string) string {
	if e.Type != t {
		return ""
	}
	return v
}

func identity(a *awsapi.Auth, id varID) string {
	if a == nil {
		return ""
	}
	switch id {
	case vIdentityAccountID:
		return a.AccountID
	case vIdentityAPIKey:
		return a.APIKey
	case vIdentityAPIKeyID:
		return a.APIKeyID
	case vIdentityCaller:
		return a.Caller
	case vIdentityUser:
		return a.User
	case vIdentityUserArn:
		return a.UserArn
	}
	return ""
}

// authorizerProperty resolves $context.authorizer.<key>: a REQUEST
// authorizer's context value, or for a JWT authorizer claims.<name>.
func authorizerProperty(a *awsapi.Auth, key string) string {
	switch {
	case a == nil:
		return ""
	case a.Custom != nil:
		return a.Custom.Context[key]
	case a.JWT != nil:
		if claim, ok := strings.CutPrefix(key, "claims."); ok {
			return a.JWT.Claims[claim]
		}
	}
	return ""
}

func (s *segment) missing(dst []byte) []byte {
	if s.mode == modeJSONValue {
		return append(dst, "null"...)
	}
	return append(dst, '-')
}

// str writes a string value; empty is missing.
func (s *segment) str(dst []byte, v string) []byte {
	switch {
	case v == "":
		return s.missing(dst)
	case s.mode == modeJSONValue:
		dst = append(dst, '"')
		dst = awsapi.AppendJSONEscaped(dst, v)
		return append(dst, '"')
	}
	return awsapi.AppendJSONEscaped(dst, v)
}

// quoted writes v in double quotes ($context.error.messageString), "-"
// when empty: the quotes are part of the value, so inside a JSON string
// they are escaped too.
func (s *segment) quoted(dst []byte, v string) []byte {
	q := `"`
	if s.mode == modeJSONString {
		q = `\"`
	}
	dst = append(dst, q...)
	if v == "" {
		dst = append(dst, '-')
	} else {
		dst = awsapi.AppendJSONEscaped(dst, v)
	}
	return append(dst, q...)
}

func (s *segment) num(dst []byte, n int64, ok bool) []byte {
	if !ok {
		return s.missing(dst)
	}
	return strconv.AppendInt(dst, n, 10)
}

// status writes an HTTP status; 0 is missing.
func (s *segment) status(dst []byte, code int) []byte {
	return s.num(dst, int64(code), code != 0)
}

// millis writes a latency in whole milliseconds; 0 is missing.
func (s *segment) millis(dst []byte, d time.Duration) []byte {
	return s.num(dst, max(d.Milliseconds(), 0), d != 0)
}

// requestTime writes ms (Unix milliseconds) in API Gateway's CLF form,
// 20/Jan/2024:11:55:00 +0000; 0 is missing.
func (s *segment) requestTime(dst []byte, ms int64) []byte {
	if ms == 0 {
		return s.missing(dst)
	}
	if s.mode == modeJSONValue {
		dst = append(dst, '"')
	}
	dst = appendCLF(dst, time.UnixMilli(ms).UTC())
	if s.mode == modeJSONValue {
		dst = append(dst, '"')
	}
	return dst
}

// appendCLF is t.AppendFormat(dst, "02/Jan/2006:15:04:05 -0700") for a
// UTC time, without the layout interpretation.
func appendCLF(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
	}
	hour, minute, sec := t.Clock()
	dst = append2(dst, day)
	dst = append(dst, '/')
	dst = append(dst, month.String()[:3]...)
	dst = append(dst, '/')
	dst = append2(dst, year/100)
	dst = append2(dst, year%100)
	dst = append(dst, ':')
	dst = append2(dst, hour)
	dst = append(dst, ':')
	dst = append2(dst, minute)
	dst = append(dst, ':')
	dst = append2(dst, sec)
	return append(dst, " +0000"...)
}

func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}
