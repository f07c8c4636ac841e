package model

import (
	"regexp"
	"regexp/syntax"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// parseRegexp is the validator's regular-expression engine: Go's regexp, as
// the library's default, but compiled only when first matched.
//
// The library calls its engine for two things: a schema's patterns, at load,
// and a message's strings under "format": "regex", at validation, where it
// only asks whether the string is a valid expression. Parsing answers that
// (regexp.Compile fails only where syntax.Parse does) in time proportional to
// the string; compiling costs what the program it describes costs, and
// ".{1000}" repeated a thousand times, 7 KB, compiles to a million
// instructions: seconds of CPU and gigabytes of garbage per 128 KiB message.
// A schema's bad pattern is still a load error, since it does not parse.
func parseRegexp(s string) (jsonschema.Regexp, error) {
	if _, err := syntax.Parse(s, syntax.Perl); err != nil {
		return nil, err
	}
	return &lazyRegexp{src: s}, nil
}

// lazyRegexp is a parsed expression, compiled on its first match.
type lazyRegexp struct {
	src  string
	once sync.Once
	re   *regexp.Regexp
}

var _ jsonschema.Regexp = (*lazyRegexp)(nil)

func (r *lazyRegexp) MatchString(s string) bool {
	r.once.Do(func() { r.re = regexp.MustCompile(r.src) }) // it parsed, so it compiles
	return r.re.MatchString(s)
}

func (r *lazyRegexp) String() string { return r.src }
