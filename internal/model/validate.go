package model

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/switchboardgw/switchboard/internal/route"
)

// HasModels reports whether messages on routeKey are validated.
func (s *Set) HasModels(routeKey string) bool {
	return s != nil && s.routes[routeKey] != nil
}

// Validate checks msg, a message on the route routeKey, against the model its
// route selects. It returns nil when the message is valid or the route has no
// models (without allocating); otherwise an [*Error]. The work is bounded by
// MaxMessageBytes and MaxDepth; any input is safe.
func (s *Set) Validate(routeKey string, msg []byte) error {
	if s == nil {
		return nil
	}
	r := s.routes[routeKey]
	if r == nil {
		return nil
	}
	return s.validate(r, msg)
}

func (s *Set) validate(r *routeModels, msg []byte) (err error) {
	var m *compiledModel
	defer func() {
		if p := recover(); p != nil {
			e := &Error{Route: r.key, Err: ErrInternal, Detail: clip(fmt.Sprint(p), maxDetail)}
			if m != nil {
				e.Model = m.name
			}
			err = e
		}
	}()
	if len(msg) > s.maxBytes {
		return &Error{Route: r.key, Err: ErrLimit, Detail: fmt.Sprintf("%d bytes, more than %d", len(msg), s.maxBytes)}
	}
	if what := checkLimits(msg, s.maxDepth); what != "" {
		return &Error{Route: r.key, Err: ErrLimit, Detail: what}
	}

	if m = r.static; m == nil {
		var buf [64]byte
		sel, ok := r.expr.Append(buf[:0], &route.Input{Body: msg})
		if !ok {
			return &Error{Route: r.key, Err: ErrNotJSON}
		}
		if m = r.byKey[string(sel)]; m == nil {
			if m = r.def; m == nil {
				return &Error{Route: r.key, Err: ErrNoModel, Detail: "selection value " + strconv.Quote(clip(string(sel), 64)) + " has no model and there is no $default model"}
			}
		}
	}

	// The validator's own decoder: numbers stay exact (json.Number), and
	// trailing data after the value is refused.
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(msg))
	if err != nil {
		return &Error{Route: r.key, Model: m.name, Err: ErrNotJSON}
	}
	if verr := m.schema.Validate(v); verr != nil {
		return &Error{Route: r.key, Model: m.name, Err: ErrInvalid, Detail: describe(verr)}
	}
	return nil
}

// maxCauses bounds how many failures Detail lists.
const maxCauses = 8

// describe renders a validation failure for a log line: the innermost
// failures ("at '/address': got number, want string"), ordered by where they
// are in the message (the validator visits properties in map order), joined,
// bounded.
func describe(err error) string {
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return clip(err.Error(), maxDetail)
	}
	var leaves []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(verr)
	slices.SortStableFunc(leaves, func(a, b *jsonschema.ValidationError) int {
		return slices.Compare(a.InstanceLocation, b.InstanceLocation)
	})
	var b strings.Builder
	for i, e := range leaves {
		if i == maxCauses {
			fmt.Fprintf(&b, "; and %d more", len(leaves)-maxCauses)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return clip(b.String(), maxDetail)
}
