package authorizer

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

const connectARN = "arn:aws:execute-api:us-east-1:123456789012:abc/dev/$connect"

func TestMatchResource(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		// The forms AWS users report.
		{"arn:aws:execute-api:us-east-1:123456789012:abc/*/*", true},
		{"arn:aws:execute-api:us-east-1:123456789012:abc/*/*/*", false}, // REST-style: one segment too many
		{"arn:aws:execute-api:us-east-1:123456789012:abc/*", true},
		{"arn:aws:execute-api:us-east-1:123456789012:abc/dev/$connect", true},
		{"*", true},

		{"arn:aws:execute-api:us-east-1:123456789012:abc/dev/*", true},
		{"arn:aws:execute-api:us-east-1:123456789012:abc/*/$connect", true},
		{"arn:aws:execute-api:us-east-1:123456789012:abc/prod/*", false},
		{"arn:aws:execute-api:us-east-1:123456789012:abc/dev/$default", false},
		{"arn:aws:execute-api:us-east-1:123456789012:abc/dev/$connect/", false},
		{"arn:aws:execute-api:us-east-1:123456789012:abc/dev", false},
		{"arn:aws:execute-api:us-east-1:123456789012:abd/*", false},
		{"arn:aws:execute-api:us-east-1:123456789012:*", true},
		{"arn:aws:execute-api:*:*:*", true},
		{"arn:aws:execute-api:us-east-?:123456789012:abc/dev/$connect", true},
		{"arn:aws:execute-api:us-east-??:123456789012:abc/dev/$connect", false},
		{"arn:aws:execute-api:us-*:123456789012:a?c/*", true},
		{"arn:*:execute-api:us-east-1:123456789012:abc/*", true},
		{"arn:aws:execute-api:us-west-2:123456789012:abc/*", false},
		{"arn:aws:execute-api:us-east-1:210987654321:abc/*", false},
		{"arn:aws:lambda:us-east-1:123456789012:abc/*", false},
		{"arn:aws:execute-api:us-east-1:123456789012:ABC/*", false}, // case-sensitive
		{"Arn:aws:execute-api:us-east-1:123456789012:abc/*", false},
		// A "*" in the first five parts does not cross a colon.
		{"arn:aws:*:123456789012:abc/*", false},
		{"arn:*:abc/*", false},
		{"arn:aws:execute-api:*", false},
		{"", false},
		{"**", false}, // only a lone "*" is the match-all form
	}
	for _, tt := range tests {
		if got := MatchResource(tt.pattern, connectARN); got != tt.want {
			t.Errorf("MatchResource(%q, %q) = %v, want %v", tt.pattern, connectARN, got, tt.want)
		}
	}
	// The resource part may hold colons of its own.
	if !MatchResource("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b") ||
		MatchResource("arn:aws:s3:::bucket/a", "arn:aws:s3:::bucket/a:b") {
		t.Error("a resource part with a colon")
	}
}

func TestMatchAction(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		{"execute-api:Invoke", true},
		{"execute-api:*", true},
		{"*", true},
		{"Execute-API:Invoke", true}, // service prefix: case-insensitive
		{"execute-api:invoke", true}, // action name too, as in IAM
		{"execute-api:Inv*", true},
		{"execute-api:Invok?", true},
		{"execute-api:ManageConnections", false},
		{"execute-api:InvalidateCache", false},
		{"execute-api:Invoke*", true},
		{"execute-api:Invoke?", false},
		{"execute-api", false},
		{"lambda:Invoke", false},
		{"lambda:*", false},
		{"*:Invoke", true},
		{"", false},
	}
	for _, tt := range tests {
		if got := MatchAction(tt.pattern, InvokeAction); got != tt.want {
			t.Errorf("MatchAction(%q) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

func TestMatchWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "a/b:c", true},
		{"?", "", false},
		{"?", "a", true},
		{"?", "日", true}, // one character, three bytes
		{"??", "日", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"a*bc", "abcbc", true},
		{"a*?", "a", false},
		{"a*?", "ab", true},
		{"*a*a*a*", "aaa", true},
		{"*a*a*a*", "aa", false},
		{"*?*", "x", true},
		{"a\\*", "a\\b", true}, // no escapes in IAM patterns
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
		{"ab", "abc", false},
	}
	for _, tt := range tests {
		if got := matchWildcard(tt.pattern, tt.s, false); got != tt.want {
			t.Errorf("matchWildcard(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
	if !matchWildcard("AbC*", "aBcD", true) || matchWildcard("AbC*", "aBcD", false) {
		t.Error("fold")
	}
}

func TestEvaluate(t *testing.T) {
	const arn = connectARN
	allowAll := Statement{Effect: Allow, Action: []string{"execute-api:Invoke"}, Resource: []string{"*"}}
	tests := []struct {
		name      string
		stmts     []Statement
		allowed   bool
		statement int
	}{
		{"no statements", nil, false, -1},
		{"allow", []Statement{allowAll}, true, 0},
		{"allow elsewhere", []Statement{{Effect: Allow, Action: []string{"*"}, Resource: []string{"arn:aws:execute-api:us-east-1:123456789012:abc/prod/*"}}}, false, -1},
		{"allow another action", []Statement{{Effect: Allow, Action: []string{"execute-api:ManageConnections"}, Resource: []string{"*"}}}, false, -1},
		{"deny wins after allow", []Statement{allowAll, {Effect: Deny, Action: []string{"execute-api:*"}, Resource: []string{arn}}}, false, 1},
		{"deny wins before allow", []Statement{{Effect: Deny, Action: []string{"*"}, Resource: []string{"*"}}, allowAll}, false, 0},
		{"deny elsewhere", []Statement{allowAll, {Effect: Deny, Action: []string{"*"}, Resource: []string{"arn:aws:execute-api:us-east-1:123456789012:abc/prod/*"}}}, true, 0},
		{"first allow reported", []Statement{{Effect: Allow, Action: []string{"lambda:*"}, Resource: []string{"*"}}, allowAll, allowAll}, true, 1},
		{"one of several resources", []Statement{{Effect: Allow, Action: []string{"execute-api:Invoke"},
			Resource: []string{"arn:aws:execute-api:us-east-1:123456789012:other/*", arn}}}, true, 0},
		{"NotAction allows other actions", []Statement{{Effect: Allow, Action: []string{"execute-api:ManageConnections"}, NotAction: true, Resource: []string{"*"}}}, true, 0},
		{"NotAction excludes Invoke", []Statement{{Effect: Allow, Action: []string{"execute-api:Invoke"}, NotAction: true, Resource: []string{"*"}}}, false, -1},
		{"NotResource allows other resources", []Statement{{Effect: Allow, Action: []string{"*"}, Resource: []string{"arn:aws:execute-api:us-east-1:123456789012:abc/prod/*"}, NotResource: true}}, true, 0},
		{"NotResource excludes this one", []Statement{{Effect: Allow, Action: []string{"*"}, Resource: []string{"arn:aws:execute-api:*:*:abc/dev/*"}, NotResource: true}}, false, -1},
		{"deny with NotResource", []Statement{allowAll, {Effect: Deny, Action: []string{"*"}, Resource: []string{"arn:aws:execute-api:*:*:abc/prod/*"}, NotResource: true}}, false, 1},
		{"empty NotAction applies to all", []Statement{{Effect: Allow, Action: []string{}, NotAction: true, Resource: []string{"*"}}}, true, 0},
		{"empty Action applies to none", []Statement{{Effect: Allow, Action: []string{}, Resource: []string{"*"}}}, false, -1},
	}
	for _, tt := range tests {
		p := Policy{Version: "2012-10-17", Statements: tt.stmts}
		d := p.Evaluate(InvokeAction, arn)
		if d.Allowed != tt.allowed || d.Statement != tt.statement {
			t.Errorf("%s: Evaluate = %+v, want allowed %v statement %d", tt.name, d, tt.allowed, tt.statement)
		}
	}
}

// wildcardRegexp is the reference matcher: the pattern as a regular
// expression, "*" as ".*" and "?" as ".", anything else literal.
func wildcardRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String())
}

// referenceMatchResource is MatchResource through regular expressions.
func referenceMatchResource(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	pp, ap := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
	if len(pp) != 6 || len(ap) != 6 {
		return false
	}
	for i := range pp {
		if !wildcardRegexp(pp[i]).MatchString(ap[i]) {
			return false
		}
	}
	return true
}

func FuzzPolicyMatch(f *testing.F) {
	seeds := [][2]string{
		{"arn:aws:execute-api:us-east-1:123456789012:abc/*/*", connectARN},
		{"arn:aws:execute-api:us-east-1:123456789012:abc/*/*/*", connectARN},
		{"arn:aws:execute-api:*:*:abc/?ev/*", connectARN},
		{"*", ""}, {"a*b?c", "aXbYc"}, {"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"?", "日"}, {"execute-api:*", "Execute-Api:Invoke"}, {"a:b:c:d:e:f", "a:b:c:d:e:f:g"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := matchWildcard(pattern, s, false)
		if !matchWildcard("*", s, false) {
			t.Fatalf("* does not match %q", s)
		}
		if !matchWildcard(pattern, pattern, false) {
			t.Fatalf("%q does not match itself", pattern)
		}
		if !strings.ContainsAny(pattern, "*?") && got != (pattern == s) {
			t.Fatalf("wildcard-free %q matching %q: %v", pattern, s, got)
		}
		if isASCII(pattern) && isASCII(s) && MatchAction(pattern, s) != matchWildcard(strings.ToLower(pattern), strings.ToLower(s), false) {
			t.Fatalf("MatchAction(%q, %q) is not a case-insensitive match", pattern, s)
		}
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return // the reference: regexp reads invalid UTF-8 differently
		}
		if want := wildcardRegexp(pattern).MatchString(s); got != want {
			t.Fatalf("matchWildcard(%q, %q) = %v, the regexp says %v", pattern, s, got, want)
		}
		if got, want := MatchResource(pattern, s), referenceMatchResource(pattern, s); got != want {
			t.Fatalf("MatchResource(%q, %q) = %v, the reference says %v", pattern, s, got, want)
		}
		if !MatchResource("*", s) {
			t.Fatalf("MatchResource(*, %q) is false", s)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
