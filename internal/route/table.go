package route

import (
	"fmt"
	"strings"
)

// Predefined route keys.
const (
	Connect    = "$connect"
	Disconnect = "$disconnect"
	Default    = "$default"
)

// IsPredefined reports whether key is one of the reserved $ route keys.
func IsPredefined(key string) bool {
	return key == Connect || key == Disconnect || key == Default
}

// ValidateKey checks a route key: custom keys must be non-empty and must not
// start with $, which API Gateway reserves for the predefined routes.
func ValidateKey(key string) error {
	if IsPredefined(key) {
		return nil
	}
	if key == "" {
		return fmt.Errorf("empty route key")
	}
	if strings.HasPrefix(key, "$") {
		return fmt.Errorf("route key %q: keys starting with $ are reserved (use $connect, $disconnect or $default)", key)
	}
	return nil
}

// Table picks the route for a message: the selection expression's result
// is matched exactly against the custom route keys; no match, or a body the
// expression cannot be evaluated against, falls back to $default.
type Table[T any] struct {
	expr     *Expr
	routes   map[string]entry[T]
	fallback T
	hasDef   bool
}

type entry[T any] struct {
	key   string
	route T
}

// NewTable builds a table over routes, keyed by route key. $connect and
// $disconnect entries are ignored (they are not message routes).
func NewTable[T any](expr *Expr, routes map[string]T) *Table[T] {
	t := &Table[T]{expr: expr, routes: make(map[string]entry[T], len(routes))}
	for k, v := range routes {
		switch k {
		case Connect, Disconnect:
		case Default:
			t.fallback, t.hasDef = v, true
		default:
			t.routes[k] = entry[T]{key: k, route: v}
		}
	}
	return t
}

// Select returns the route key and route for body; ok is false when no
// route matches and there is no $default. The selection result is built in
// a stack buffer and the map index with string(bytes) does not allocate,
// so selecting a key of up to 64 bytes allocates nothing.
func (t *Table[T]) Select(body []byte) (key string, r T, ok bool) {
	var buf [64]byte
	in := Input{Body: body}
	if sel, evaluated := t.expr.Append(buf[:0], &in); evaluated {
		if e, found := t.routes[string(sel)]; found {
			return e.key, e.route, true
		}
	}
	if t.hasDef {
		return Default, t.fallback, true
	}
	return "", r, false
}
