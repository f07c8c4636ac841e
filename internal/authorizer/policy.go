package authorizer

import (
	"strings"
	"unicode/utf8"
)

// InvokeAction is the IAM action a $connect asks for.
const InvokeAction = "execute-api:Invoke"

// Effect is a policy statement's Effect.
type Effect uint8

// Effects.
const (
	Allow Effect = iota + 1
	Deny
)

// String returns the Effect as policies spell it.
func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "?"
}

// Policy is the IAM policy document an authorizer returns.
type Policy struct {
	// Version is the policy language version, "2012-10-17" or
	// "2008-10-17"; empty when the document has none.
	Version string
	// Statements are the document's Statement, in order.
	Statements []Statement
}

// Statement is one policy statement without a Condition (a response with
// one is refused when parsed). Action and Resource hold the patterns of
// Action and Resource, or of NotAction and NotResource when NotAction and
// NotResource are set.
type Statement struct {
	Effect      Effect
	Action      []string
	NotAction   bool
	Resource    []string
	NotResource bool
}

// Decision is a policy's answer for one action on one resource.
type Decision struct {
	// Allowed is true when a statement allows and none denies.
	Allowed bool
	// Statement is the index of the statement that decided: the first
	// matching Deny, else the first matching Allow. It is -1 when no
	// statement matches (an implicit deny).
	Statement int
}

// Evaluate applies IAM's rules: an explicit Deny wins, else a matching
// Allow allows, else the request is denied.
func (p *Policy) Evaluate(action, resource string) Decision {
	d := Decision{Statement: -1}
	for i := range p.Statements {
		s := &p.Statements[i]
		if !s.Matches(action, resource) {
			continue
		}
		if s.Effect == Deny {
			return Decision{Allowed: false, Statement: i}
		}
		if !d.Allowed {
			d = Decision{Allowed: true, Statement: i}
		}
	}
	return d
}

// Matches reports whether the statement applies to action on resource,
// whatever its effect.
func (s *Statement) Matches(action, resource string) bool {
	return matchesAny(s.Action, action, MatchAction) != s.NotAction &&
		matchesAny(s.Resource, resource, MatchResource) != s.NotResource
}

func matchesAny(patterns []string, s string, match func(pattern, s string) bool) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

// MatchAction reports whether the IAM action pattern (such as
// "execute-api:*") matches action. As in IAM, service prefix and action
// name are compared case-insensitively, and the pattern may hold the
// wildcards "*" (any run of characters) and "?" (one character).
func MatchAction(pattern, action string) bool {
	return matchWildcard(pattern, action, true)
}

// MatchResource reports whether the IAM resource pattern matches the ARN
// arn. A pattern of "*" matches everything. Otherwise pattern and ARN are
// split on their first five colons into partition, service, region,
// account and resource, and each part is matched on its own, so a
// wildcard in the first five never crosses a colon; in the resource part
// (everything after the fifth colon) "*" also spans "/". So
// .../abc/*/* and .../abc/* match .../abc/dev/$connect, and the REST-style
// .../abc/*/*/* does not. Comparison is case-sensitive.
func MatchResource(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	for range 5 {
		var p, a string
		var ok bool
		if p, pattern, ok = strings.Cut(pattern, ":"); !ok {
			return false
		}
		if a, arn, ok = strings.Cut(arn, ":"); !ok {
			return false
		}
		if !matchWildcard(p, a, false) {
			return false
		}
	}
	return matchWildcard(pattern, arn, false)
}

// validResourcePattern reports whether MatchResource can match anything
// with pattern: "*", or something with at least five colons.
func validResourcePattern(pattern string) bool {
	return pattern == "*" || strings.Count(pattern, ":") >= 5
}

// matchWildcard reports whether s matches pattern, in which "*" matches
// any run of characters (including none) and "?" exactly one character (a
// UTF-8 sequence, or a single byte of invalid UTF-8). fold compares ASCII
// letters case-insensitively.
//
// It walks both strings once, remembering the last "*": on a mismatch,
// that "*" takes one more character of s and matching resumes after it.
// Earlier stars never need to take more, so this is linear in practice
// and O(len(pattern)·len(s)) at worst.
func matchWildcard(pattern, s string, fold bool) bool {
	p, i := 0, 0
	star, starI := -1, 0 // the last "*" seen in pattern, and where in s its match ends
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; {
			case c == '*':
				star, starI = p, i
				p++
				continue
			case c == '?':
				_, size := utf8.DecodeRuneInString(s[i:])
				p, i = p+1, i+size
				continue
			case c == s[i] || fold && lower(c) == lower(s[i]):
				p, i = p+1, i+1
				continue
			}
		}
		if star < 0 {
			return false
		}
		_, size := utf8.DecodeRuneInString(s[starI:])
		starI += size
		p, i = star+1, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
