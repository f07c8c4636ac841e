package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Problems is every problem found in a configuration, each prefixed by its
// path in the file ("routes.sendMessage.integration: unknown integration").
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "\n") }

// Load reads, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, os.LookupEnv)
}

// Parse decodes YAML strictly, substitutes ${ENV} references in values
// through lookup, applies defaults and validates. Any problem, from unknown
// keys to dangling integration names, is returned in one Problems error.
func Parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{"config: the file is empty"}
		}
		return nil, Problems{fmt.Sprintf("config: not valid YAML: %v", err)}
	}
	w := walker{lookup: lookup, lines: map[int][]scalarAt{}}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	w.walk(doc, reflect.TypeFor[Config](), "")

	var cfg Config
	if err := doc.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, Problems{err.Error()}
		}
		for _, msg := range te.Errors {
			w.problems = append(w.problems, w.locate(msg))
		}
	}
	// Validate even a partly decoded file, so one run lists every problem;
	// a path that failed to decode is not reported twice.
	cfg.applyDefaults()
	problems := w.problems
	for _, p := range cfg.Validate() {
		if !mentionsPath(w.problems, p) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, sortProblems(problems)
	}
	return &cfg, nil
}

// mentionsPath reports whether a problem already names the path that p starts with.
func mentionsPath(problems Problems, p string) bool {
	path, _, _ := strings.Cut(p, ": ")
	for _, q := range problems {
		if qp, _, _ := strings.Cut(q, ": "); qp == path {
			return true
		}
	}
	return false
}

func sortProblems(p Problems) Problems {
	sort.SliceStable(p, func(i, j int) bool { return p[i] < p[j] })
	return p
}

// walker checks a YAML tree against the Config types: it reports unknown
// keys with their path, expands ${ENV} in scalar values, and remembers
// which path each line holds so decoder errors can name it.
type walker struct {
	lookup   func(string) (string, bool)
	lines    map[int][]scalarAt // the scalars on each line, in order
	problems Problems
}

type scalarAt struct{ path, value string }

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		w.problems = append(w.problems, fmt.Sprintf("%s: YAML aliases are not supported", path))
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		w.lines[n.Line] = append(w.lines[n.Line], scalarAt{path, n.Value})
		w.expandEnv(n, path)
	case yaml.MappingNode:
		switch t.Kind() {
		case reflect.Struct:
			fields := yamlFields(t)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				f, ok := fields[k.Value]
				if !ok {
					w.problems = append(w.problems, fmt.Sprintf("%s: unknown key (line %d)", join(path, k.Value), k.Line))
					continue
				}
				w.walk(v, f.Type, join(path, k.Value))
			}
		case reflect.Map:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				w.walk(v, t.Elem(), join(path, k.Value))
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice {
			for i, c := range n.Content {
				w.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
}

func (w *walker) expandEnv(n *yaml.Node, path string) {
	if !strings.Contains(n.Value, "${") {
		return
	}
	n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		if v, ok := w.lookup(m[1]); ok {
			return v
		}
		if m[2] != "" {
			return m[3]
		}
		w.problems = append(w.problems, fmt.Sprintf("%s: environment variable %s is not set (use ${%s:-default} for a default)", path, m[1], m[1]))
		return ""
	})
}

// locate rewrites a decoder message "line 7: cannot unmarshal ..." as
// "stage.limits.maxFrameBytes: cannot unmarshal ... (line 7)".
func (w *walker) locate(msg string) string {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return msg
	}
	num, text, ok := strings.Cut(rest, ": ")
	line, err := strconv.Atoi(num)
	if !ok || err != nil {
		return msg
	}
	// The decoder quotes the offending value in backticks; pick the scalar
	// on that line holding it (several can share a line in flow style).
	scalars := w.lines[line]
	if len(scalars) == 0 {
		return msg
	}
	at := scalars[len(scalars)-1]
	if _, quoted, ok := strings.Cut(text, "`"); ok {
		value, _, _ := strings.Cut(quoted, "`")
		for _, s := range scalars {
			if s.value == value {
				at = s
				break
			}
		}
	}
	return fmt.Sprintf("%s: %s (line %d)", at.path, text, line)
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = f
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// UnmarshalYAML reads a Go duration string ("10m", "250ms").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid duration %q (want e.g. 10s, 5m, 2h)", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }
