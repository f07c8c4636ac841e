package authorizer

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboardgw/switchboard/internal/awsapi"
)

// SourceKind says where an identity source's value comes from.
type SourceKind uint8

// Source kinds, one per prefix of the WebSocket identity source syntax.
const (
	// SourceHeader is route.request.header.NAME, matched case-insensitively.
	SourceHeader SourceKind = iota + 1
	// SourceQueryString is route.request.querystring.NAME, matched exactly.
	SourceQueryString
	// SourceStageVariable is stageVariables.NAME.
	SourceStageVariable
	// SourceContext is context.NAME, a $context variable of the CONNECT event.
	SourceContext
)

// sourcePrefixes are the kinds' spellings, indexed by SourceKind.
var sourcePrefixes = [...]string{
	SourceHeader:        "route.request.header.",
	SourceQueryString:   "route.request.querystring.",
	SourceStageVariable: "stageVariables.",
	SourceContext:       "context.",
}

// Source is one identity source: a request value that must be present
// and non-empty before the authorizer is called.
type Source struct {
	Kind SourceKind
	Name string
}

// String formats s in the syntax ParseIdentitySource reads.
func (s Source) String() string {
	if s.Kind == 0 || int(s.Kind) >= len(sourcePrefixes) {
		return "?" + s.Name
	}
	return sourcePrefixes[s.Kind] + s.Name
}

// ParseIdentitySource reads API Gateway's identity source for WebSocket
// APIs: a comma-separated list (spaces around the commas allowed) of
//
//	route.request.header.NAME
//	route.request.querystring.NAME
//	stageVariables.NAME
//	context.NAME
//
// written without the "$" that HTTP APIs use. Header names must be HTTP
// tokens; context names must be variables the CONNECT event defines, such
// as connectionId or identity.sourceIp. An empty string is an error: a
// configuration without identity sources has none to parse.
func ParseIdentitySource(s string) ([]Source, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("identity source is empty")
	}
	items := strings.Split(s, ",")
	sources := make([]Source, 0, len(items))
	for i, item := range items {
		item = strings.Trim(item, " \t")
		src, err := parseSource(item)
		if err != nil {
			return nil, fmt.Errorf("identity source item %d: %w", i+1, err)
		}
		sources = append(sources, src)
	}
	return sources, nil
}

// FormatIdentitySource is the inverse of ParseIdentitySource: the sources
// joined by ", ".
func FormatIdentitySource(sources []Source) string {
	var b strings.Builder
	for i, s := range sources {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.String())
	}
	return b.String()
}

func parseSource(item string) (Source, error) {
	if item == "" {
		return Source{}, errors.New("empty item (two commas in a row, or a comma at an end)")
	}
	if rest, ok := strings.CutPrefix(item, "$"); ok {
		return Source{}, fmt.Errorf("%q: WebSocket identity sources are written without \"$\"%s", item, suggest(rest))
	}
	src, err := parseItem(item)
	if errors.Is(err, errUnknownPrefix) {
		err = fmt.Errorf("%q: %w%s", item, err, suggest(item))
	}
	return src, err
}

var errUnknownPrefix = errors.New("want route.request.header.NAME, route.request.querystring.NAME, stageVariables.NAME or context.NAME")

// parseItem reads one non-empty item.
func parseItem(item string) (Source, error) {
	for kind := SourceHeader; kind <= SourceContext; kind++ {
		name, ok := strings.CutPrefix(item, sourcePrefixes[kind])
		if !ok {
			continue
		}
		if name == "" {
			return Source{}, fmt.Errorf("%q: the name after %q is empty", item, sourcePrefixes[kind])
		}
		if err := checkName(kind, name); err != nil {
			return Source{}, fmt.Errorf("%q: %w", item, err)
		}
		return Source{Kind: kind, Name: name}, nil
	}
	return Source{}, errUnknownPrefix
}

// suggest returns ": write X" when X, the WebSocket spelling of s, is a
// valid source: s may be an HTTP API source after its "$"
// ("request.header.Auth") or a REST API one ("method.request.header.Auth").
func suggest(s string) string {
	for _, from := range []string{"request.", "method.request."} {
		if rest, ok := strings.CutPrefix(s, from); ok {
			s = "route.request." + rest
			break
		}
	}
	if _, err := parseItem(s); err != nil {
		return ""
	}
	return ": write " + s
}

func checkName(kind SourceKind, name string) error {
	switch kind {
	case SourceHeader:
		for i := 0; i < len(name); i++ {
			if !isTokenChar(name[i]) {
				return fmt.Errorf("%q is not a valid header name", name)
			}
		}
	case SourceQueryString:
		for _, r := range name {
			if r == utf8.RuneError || r == ',' || unicode.IsSpace(r) || unicode.IsControl(r) {
				return fmt.Errorf("query string name %q has a space, comma, control character or invalid UTF-8", name)
			}
		}
	case SourceStageVariable:
		// API Gateway's character set for stage variable names, but the
		// comma that separates identity sources.
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !isAlnum(c) && !strings.ContainsRune("-._~:/?#&=", rune(c)) {
				return fmt.Errorf("stage variable name %q: want letters, digits and -._~:/?#&=", name)
			}
		}
	case SourceContext:
		// The zero CONNECT event resolves exactly the names a CONNECT
		// event defines.
		if _, ok := (&awsapi.Event{Type: awsapi.Connect}).Context(name); !ok {
			return fmt.Errorf("unknown context variable %q for $connect", name)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isTokenChar reports whether c may appear in an HTTP header name (RFC 9110
// token).
func isTokenChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Lookup returns s's value in ev, the CONNECT event. ok is false when the
// value is missing or empty. A header or query string parameter given more
// than once has its last value, as in the event's headers and
// queryStringParameters.
func (s Source) Lookup(ev *awsapi.Event) (value string, ok bool) {
	switch s.Kind {
	case SourceHeader:
		for _, h := range ev.Headers {
			if asciiEqualFold(h.Name, s.Name) {
				value, ok = h.Value, true
			}
		}
	case SourceQueryString:
		if vs := ev.Query[s.Name]; len(vs) > 0 {
			value, ok = vs[len(vs)-1], true
		}
	case SourceStageVariable:
		value, ok = ev.StageVariables[s.Name]
	case SourceContext:
		value, ok = ev.Context(s.Name)
	}
	return value, ok && value != ""
}

// MissingSourceError is an identity source that is missing or empty in a
// request: API Gateway answers 401 without calling the authorizer.
type MissingSourceError struct {
	Source Source
}

// Error names the source.
func (e *MissingSourceError) Error() string {
	return "identity source " + e.Source.String() + " is missing or empty"
}

// Values looks up each source in ev, in order, and appends the values to
// dst. The first missing or empty source stops it with a
// *MissingSourceError.
func Values(dst []string, sources []Source, ev *awsapi.Event) ([]string, error) {
	for _, s := range sources {
		v, ok := s.Lookup(ev)
		if !ok {
			return dst, &MissingSourceError{Source: s}
		}
		dst = append(dst, v)
	}
	return dst, nil
}

// asciiEqualFold compares header names case-insensitively in ASCII only,
// as HTTP does (strings.EqualFold would also fold "K" (Kelvin) to "k").
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
