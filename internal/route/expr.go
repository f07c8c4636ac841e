// Package route compiles and evaluates API Gateway selection expressions
// ($request.body.action, ${request.body.a}-${context.stage}, \$default) and
// picks the route for a message. It is pure: no I/O, no goroutines.
package route

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Vars says which variable namespaces an expression may use.
type Vars uint8

const (
	// BodyPath allows $request.body.<JSONPath>: a value selected from a JSON message.
	BodyPath Vars = 1 << iota
	// WholeBody allows $request.body alone: the raw message text.
	WholeBody
	// Context allows $context.<name> (connectionId, requestId, identity.sourceIp, ...).
	Context
	// StageVariables allows $stageVariables.<name>.
	StageVariables
)

// Selection is what a route selection expression may use: paths into the JSON body.
const Selection = BodyPath

// Template is what mock bodies and headers may use: everything.
const Template = BodyPath | WholeBody | Context | StageVariables

// Input is what an expression is evaluated against.
type Input struct {
	// Body is the raw message.
	Body []byte
	// Context resolves $context.<name>; nil resolves nothing.
	Context func(name string) (string, bool)
	// StageVariables resolves $stageVariables.<name>.
	StageVariables map[string]string
}

// Expr is a compiled selection expression: static text and variables,
// evaluated once (a value is never re-evaluated as an expression).
type Expr struct {
	src      string
	parts    []part
	usesBody bool // some part reads a path inside the JSON body
}

type partKind uint8

const (
	partText partKind = iota
	partBodyPath
	partWholeBody
	partContext
	partStageVar
)

type part struct {
	kind partKind
	text string // literal text, gjson path, or variable name
}

// String returns the expression's source text.
func (e *Expr) String() string { return e.src }

// IsStatic reports whether the expression contains no variables.
func (e *Expr) IsStatic() bool {
	for _, p := range e.parts {
		if p.kind != partText {
			return false
		}
	}
	return true
}

// Compile parses src. allowed lists the namespaces src may refer to; any
// other variable is an error, so mistakes surface at load time.
//
// Grammar (as in API Gateway): a variable starts with $ and runs over
// [A-Za-z0-9_.] and bracket segments ([0], ['key']); ${...} delimits a
// variable explicitly; \$ is a literal dollar sign; everything else is text.
func Compile(src string, allowed Vars) (*Expr, error) {
	e := &Expr{src: src}
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			e.parts = append(e.parts, part{kind: partText, text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src) && src[i+1] == '$':
			text.WriteByte('$')
			i += 2
		case c == '$' && i+1 < len(src) && src[i+1] == '{':
			end := strings.IndexByte(src[i+2:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ${ at offset %d", i)
			}
			name := src[i+2 : i+2+end]
			p, err := compileVar(name, allowed)
			if err != nil {
				return nil, err
			}
			flush()
			e.parts = append(e.parts, p)
			i += 2 + end + 1
		case c == '$' && i+1 < len(src) && isVarStart(src[i+1]):
			j := scanVar(src, i+1)
			p, err := compileVar(src[i+1:j], allowed)
			if err != nil {
				return nil, err
			}
			flush()
			e.parts = append(e.parts, p)
			i = j
		default:
			text.WriteByte(c)
			i++
		}
	}
	flush()
	for _, p := range e.parts {
		if p.kind == partBodyPath {
			e.usesBody = true
		}
	}
	return e, nil
}

// MustCompile is Compile that panics; for expressions fixed in code.
func MustCompile(src string, allowed Vars) *Expr {
	e, err := Compile(src, allowed)
	if err != nil {
		panic(err)
	}
	return e
}

func isVarStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// scanVar returns the end of an unbraced variable starting at i.
func scanVar(s string, i int) int {
	for i < len(s) {
		c := s[i]
		switch {
		case isVarStart(c) || c >= '0' && c <= '9' || c == '_':
			i++
		case c == '.' && i+1 < len(s) && (isVarStart(s[i+1]) || s[i+1] == '_' || s[i+1] >= '0' && s[i+1] <= '9'):
			i++
		case c == '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return i
			}
			i += end + 1
		default:
			return i
		}
	}
	return i
}

func compileVar(name string, allowed Vars) (part, error) {
	switch {
	case name == "request.body":
		if allowed&WholeBody == 0 {
			return part{}, errors.New("$request.body needs a path here, e.g. $request.body.action")
		}
		return part{kind: partWholeBody}, nil
	case strings.HasPrefix(name, "request.body.") || strings.HasPrefix(name, "request.body["):
		if allowed&BodyPath == 0 {
			return part{}, fmt.Errorf("$%s is not allowed here", name)
		}
		path, err := jsonPathToGJSON(strings.TrimPrefix(name, "request.body"))
		if err != nil {
			return part{}, fmt.Errorf("$%s: %w", name, err)
		}
		return part{kind: partBodyPath, text: path}, nil
	case strings.HasPrefix(name, "context."):
		if allowed&Context == 0 {
			return part{}, fmt.Errorf("$%s is not allowed here", name)
		}
		return part{kind: partContext, text: strings.TrimPrefix(name, "context.")}, nil
	case strings.HasPrefix(name, "stageVariables."):
		if allowed&StageVariables == 0 {
			return part{}, fmt.Errorf("$%s is not allowed here", name)
		}
		return part{kind: partStageVar, text: strings.TrimPrefix(name, "stageVariables.")}, nil
	case name == "default":
		return part{}, errors.New(`$default is a route key, not a variable: write \$default for the literal text`)
	default:
		return part{}, fmt.Errorf("unknown variable $%s", name)
	}
}

// jsonPathToGJSON turns the Goessner JSONPath tail after $request.body
// (".a.b", "[0]", "['a b']") into a gjson path with special characters escaped.
func jsonPathToGJSON(p string) (string, error) {
	var segs []string
	for len(p) > 0 {
		switch p[0] {
		case '.':
			p = p[1:]
			n := 0
			for n < len(p) && p[n] != '.' && p[n] != '[' {
				n++
			}
			if n == 0 {
				return "", errors.New("empty path segment")
			}
			segs = append(segs, escapeGJSON(p[:n]))
			p = p[n:]
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return "", errors.New("unterminated [")
			}
			inner := p[1:end]
			p = p[end+1:]
			if len(inner) >= 2 && (inner[0] == '\'' && inner[len(inner)-1] == '\'' || inner[0] == '"' && inner[len(inner)-1] == '"') {
				segs = append(segs, escapeGJSON(inner[1:len(inner)-1]))
				continue
			}
			if _, err := strconv.ParseUint(inner, 10, 32); err != nil {
				return "", fmt.Errorf("bad index [%s]: want a number or a quoted key", inner)
			}
			segs = append(segs, inner)
		default:
			return "", fmt.Errorf("unexpected %q in path", p[0])
		}
	}
	if len(segs) == 0 {
		return "", errors.New("empty path")
	}
	return strings.Join(segs, "."), nil
}

// escapeGJSON escapes the characters gjson gives meaning to in a key.
func escapeGJSON(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		switch key[i] {
		case '.', '*', '?', '|', '#', '@', '\\', '!', '=', '<', '>', '%':
			b.WriteByte('\\')
		}
		b.WriteByte(key[i])
	}
	return b.String()
}

// Append evaluates e against in and appends the result to dst. ok is false
// when e reads the JSON body and the body is not valid JSON; the caller
// then falls back ($default for route selection). Missing values evaluate
// to the empty string, as in API Gateway.
func (e *Expr) Append(dst []byte, in *Input) (out []byte, ok bool) {
	if e.usesBody && !gjson.ValidBytes(in.Body) {
		return dst, false
	}
	// A string view of the body, so gjson slices it instead of copying;
	// results are appended to dst before Append returns.
	body := unsafe.String(unsafe.SliceData(in.Body), len(in.Body))
	for _, p := range e.parts {
		switch p.kind {
		case partText:
			dst = append(dst, p.text...)
		case partWholeBody:
			dst = append(dst, in.Body...)
		case partBodyPath:
			dst = appendResult(dst, gjson.Get(body, p.text))
		case partContext:
			if in.Context != nil {
				v, _ := in.Context(p.text)
				dst = append(dst, v...)
			}
		case partStageVar:
			dst = append(dst, in.StageVariables[p.text]...)
		}
	}
	return dst, true
}

// Eval is Append into a new string.
func (e *Expr) Eval(in *Input) (string, bool) {
	b, ok := e.Append(nil, in)
	return string(b), ok
}

// appendResult stringifies a JSON value the way API Gateway does: strings
// unquoted, numbers and booleans as written, null and missing as empty,
// arrays as "[a, b]" and objects as "{k=v, k2=v2}" (Java collection style).
func appendResult(dst []byte, r gjson.Result) []byte {
	switch r.Type {
	case gjson.Null:
		return dst
	case gjson.String:
		return append(dst, r.Str...)
	case gjson.Number, gjson.True, gjson.False:
		return append(dst, r.Raw...)
	}
	if r.IsArray() {
		dst = append(dst, '[')
		first := true
		r.ForEach(func(_, v gjson.Result) bool {
			if !first {
				dst = append(dst, ", "...)
			}
			first = false
			dst = appendResult(dst, v)
			return true
		})
		return append(dst, ']')
	}
	if r.IsObject() {
		dst = append(dst, '{')
		first := true
		r.ForEach(func(k, v gjson.Result) bool {
			if !first {
				dst = append(dst, ", "...)
			}
			first = false
			dst = append(dst, k.Str...)
			dst = append(dst, '=')
			dst = appendResult(dst, v)
			return true
		})
		return append(dst, '}')
	}
	return dst
}
