package model

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/switchboardgw/switchboard/internal/route"
)

// Defaults for [Options].
const (
	// DefaultMaxMessageBytes is API Gateway's message payload limit (128 KB).
	DefaultMaxMessageBytes = 128 << 10
	// DefaultMaxDepth bounds the nesting of arrays and objects in a message.
	DefaultMaxDepth = 64
)

// maxNameLen is API Gateway's limit on model names (and route model values).
const maxNameLen = 128

// Options is what [New] compiles.
type Options struct {
	// Models maps a model name (alphanumeric) to its JSON Schema text, as
	// API Gateway's Model.Schema.
	Models map[string]string
	// Routes maps a route key to its model settings. Routes not listed here
	// are not validated.
	Routes map[string]Route
	// MaxMessageBytes is the largest message validated; longer ones fail
	// with ErrLimit. Default DefaultMaxMessageBytes; it should not be below
	// the gateway's message size limit.
	MaxMessageBytes int
	// MaxDepth is the deepest nesting of arrays and objects validated;
	// deeper messages fail with ErrLimit. Default DefaultMaxDepth.
	MaxDepth int
}

// Route is one route's request validation, as API Gateway's Route.
type Route struct {
	// ModelSelectionExpression picks the requestModels key for a message,
	// e.g. $request.body.type or \$default.
	ModelSelectionExpression string
	// RequestModels maps a selection value to a model name; the key
	// $default is the fallback.
	RequestModels map[string]string
}

// Set is a compiled, immutable set of models and route settings. The nil
// *Set validates nothing.
type Set struct {
	routes   map[string]*routeModels
	maxBytes int
	maxDepth int
}

type routeModels struct {
	key    string
	expr   *route.Expr               // nil when static
	byKey  map[string]*compiledModel // selection value → model
	def    *compiledModel            // the $default model, or nil
	static *compiledModel            // the model a static expression always selects
}

type compiledModel struct {
	name   string
	schema *jsonschema.Schema
}

// New compiles opts. The error lists every problem found, each naming its
// model or route.
func New(opts Options) (*Set, error) {
	s := &Set{
		routes:   make(map[string]*routeModels, len(opts.Routes)),
		maxBytes: opts.MaxMessageBytes,
		maxDepth: opts.MaxDepth,
	}
	var errs []error
	switch {
	case s.maxBytes == 0:
		s.maxBytes = DefaultMaxMessageBytes
	case s.maxBytes < 0:
		errs = append(errs, fmt.Errorf("maxMessageBytes: %d is negative", s.maxBytes))
	}
	switch {
	case s.maxDepth == 0:
		s.maxDepth = DefaultMaxDepth
	case s.maxDepth < 0:
		errs = append(errs, fmt.Errorf("maxDepth: %d is negative", s.maxDepth))
	}

	models, modelErrs := compileModels(opts.Models)
	errs = append(errs, modelErrs...)

	for _, key := range slices.Sorted(maps.Keys(opts.Routes)) {
		r, err := compileRoute(key, opts.Routes[key], opts.Models, models)
		if err == errReported {
			continue
		}
		if err != nil {
			errs = append(errs, &ConfigError{Route: key, Err: err})
			continue
		}
		s.routes[key] = r
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// ConfigError is one problem New found: with a model (Model set), or
// with a route's model settings (Route set). New returns them joined.
type ConfigError struct {
	Model, Route string
	Err          error
}

func (e *ConfigError) Error() string {
	if e.Model != "" {
		return fmt.Sprintf("model %q: %v", e.Model, e.Err)
	}
	return fmt.Sprintf("route %q: %v", e.Route, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// errReported says a route uses a model whose own error is already in the
// list, and has no problem of its own.
var errReported = errors.New("model error already reported")

// compileModels compiles every model, referenced or not, so a broken model
// is found at load time.
func compileModels(src map[string]string) (map[string]*compiledModel, []error) {
	var errs []error
	docs := make(map[string]any, len(src))
	names := slices.Sorted(maps.Keys(src))
	for _, name := range names {
		if err := checkModelName(name); err != nil {
			errs = append(errs, &ConfigError{Model: name, Err: err})
			continue
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(src[name]))
		if err != nil {
			errs = append(errs, &ConfigError{Model: name, Err: fmt.Errorf("schema is not JSON: %w", err)})
			continue
		}
		if err := checkDraft(doc); err != nil {
			errs = append(errs, &ConfigError{Model: name, Err: err})
			continue
		}
		docs[name] = doc
	}

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.UseLoader(refLoader{docs: docs})
	c.UseRegexpEngine(parseRegexp)
	for _, name := range names {
		if doc, ok := docs[name]; ok {
			if err := c.AddResource(modelURL(name), doc); err != nil {
				errs = append(errs, &ConfigError{Model: name, Err: errors.New(shortenURLs(err.Error()))})
				delete(docs, name)
			}
		}
	}
	models := make(map[string]*compiledModel, len(docs))
	for _, name := range names {
		if _, ok := docs[name]; !ok {
			continue
		}
		sch, err := c.Compile(modelURL(name))
		if err != nil {
			errs = append(errs, &ConfigError{Model: name, Err: errors.New(shortenURLs(err.Error()))})
			continue
		}
		models[name] = &compiledModel{name: name, schema: sch}
	}
	return models, errs
}

// checkModelName applies API Gateway's rule: alphanumeric, 1–128 characters.
func checkModelName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("name must have 1 to %d characters", maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return errors.New("name must be alphanumeric, as in API Gateway")
		}
	}
	return nil
}

// drafts are the "$schema" values understood, without scheme and empty fragment.
var drafts = []string{
	"json-schema.org/draft-04/schema",
	"json-schema.org/draft-06/schema",
	"json-schema.org/draft-07/schema",
	"json-schema.org/draft/2019-09/schema",
	"json-schema.org/draft/2020-12/schema",
}

// checkDraft refuses a "$schema" that is not a known draft with a clearer
// message than the loader's refusal (a custom meta-schema would be fetched).
func checkDraft(doc any) error {
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	s, ok := obj["$schema"].(string)
	if !ok {
		return nil
	}
	u, ok := strings.CutPrefix(s, "http://")
	if !ok {
		u, ok = strings.CutPrefix(s, "https://")
	}
	if ok && slices.Contains(drafts, strings.TrimSuffix(u, "#")) {
		return nil
	}
	return fmt.Errorf("$schema %q is not supported: use draft-04 (the default), draft-06, draft-07, 2019-09 or 2020-12", s)
}

// shortenURLs turns model locations in library messages back into names.
func shortenURLs(msg string) string {
	return strings.ReplaceAll(msg, modelBase, "model:")
}

func compileRoute(key string, cfg Route, sources map[string]string, models map[string]*compiledModel) (*routeModels, error) {
	switch key {
	case route.Connect, route.Disconnect:
		return nil, errors.New("requestModels apply to messages; $connect and $disconnect carry none")
	}
	if err := route.ValidateKey(key); err != nil {
		return nil, err
	}
	switch {
	case cfg.ModelSelectionExpression == "" && len(cfg.RequestModels) == 0:
		return nil, errors.New("no modelSelectionExpression and no requestModels")
	case cfg.ModelSelectionExpression == "":
		return nil, errors.New("requestModels without a modelSelectionExpression: API Gateway validates only with an expression; set one, e.g. \\$default")
	case len(cfg.RequestModels) == 0:
		return nil, errors.New("modelSelectionExpression without requestModels: every message would fail validation")
	}

	r := &routeModels{key: key, byKey: make(map[string]*compiledModel, len(cfg.RequestModels))}
	var errs []error
	broken := false // a model used here failed on its own and was reported
	for _, k := range slices.Sorted(maps.Keys(cfg.RequestModels)) {
		name := cfg.RequestModels[k]
		m, ok := models[name]
		switch {
		case k == "":
			errs = append(errs, errors.New("requestModels: empty key"))
		case ok && k == route.Default:
			r.def = m
		case ok:
			r.byKey[k] = m
		default:
			if _, exists := sources[name]; exists {
				broken = true
				continue
			}
			errs = append(errs, fmt.Errorf("requestModels[%q]: unknown model %q", k, name))
		}
	}

	src := cfg.ModelSelectionExpression
	if src == route.Default {
		src = `\$default` // as for route response selection, a bare $default is the literal
	}
	expr, err := route.Compile(src, route.Selection)
	if err != nil {
		errs = append(errs, fmt.Errorf("modelSelectionExpression %q: %w", cfg.ModelSelectionExpression, err))
	} else if expr.IsStatic() {
		sel, _ := expr.Eval(&route.Input{})
		r.static = r.pick(sel)
		if r.static == nil && len(errs) == 0 && !broken {
			errs = append(errs, fmt.Errorf("modelSelectionExpression %q always selects %q, which has no model, and there is no $default model", cfg.ModelSelectionExpression, sel))
		}
	} else {
		r.expr = expr
	}
	switch {
	case len(errs) > 0:
		return nil, errors.Join(errs...)
	case broken:
		return nil, errReported
	}
	return r, nil
}

// pick returns the model for selection value sel, falling back to $default.
func (r *routeModels) pick(sel string) *compiledModel {
	if m := r.byKey[sel]; m != nil {
		return m
	}
	return r.def
}
