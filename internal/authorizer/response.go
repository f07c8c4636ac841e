package authorizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxResponseBytes is the largest authorizer response API Gateway accepts
// (8 KiB).
const MaxResponseBytes = 8192

// ErrCondition is reported for a policy statement with a Condition.
// Conditions depend on request context Switchboard does not model, so
// such a response is an authorizer error rather than a guess.
var ErrCondition = errors.New("the statement has a Condition, which Switchboard cannot evaluate")

// Response is an authorizer's answer:
//
//	{"principalId": "user",
//	 "policyDocument": {"Version": "2012-10-17",
//	   "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:..."}]},
//	 "context": {"name": "value", "n": 1, "admin": true},
//	 "usageIdentifierKey": "..."}
type Response struct {
	// PrincipalID identifies the caller; required and non-empty.
	PrincipalID string
	// Policy is the policyDocument.
	Policy Policy
	// Context holds the context values as API Gateway passes them on:
	// strings as they are, numbers as their JSON text, booleans as "true"
	// or "false".
	Context map[string]string
	// UsageIdentifierKey is the API key for usage plans, when the API
	// takes keys from the authorizer.
	UsageIdentifierKey string
}

// ParseResponse reads an authorizer's response. Field names are
// case-sensitive, as in IAM. It is an error if the response is over
// MaxResponseBytes, is not a JSON object, lacks principalId or
// policyDocument, has a context value that is not a string, number or
// boolean, or has a malformed policy or one with a Condition (ErrCondition).
func ParseResponse(data []byte) (*Response, error) {
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("the response is %d bytes; the limit is %d", len(data), MaxResponseBytes)
	}
	fields, err := object(data, "the response")
	if err != nil {
		return nil, err
	}
	r := &Response{}
	raw, ok := fields["principalId"]
	if !ok || isNull(raw) {
		return nil, errors.New("principalId is missing")
	}
	if r.PrincipalID, err = str(raw, "principalId"); err != nil {
		return nil, err
	}
	if r.PrincipalID == "" {
		return nil, errors.New("principalId is empty")
	}
	raw, ok = fields["policyDocument"]
	if !ok || isNull(raw) {
		return nil, errors.New("policyDocument is missing")
	}
	if r.Policy, err = parsePolicy(raw); err != nil {
		return nil, err
	}
	if raw, ok := fields["context"]; ok && !isNull(raw) {
		if r.Context, err = parseContext(raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := fields["usageIdentifierKey"]; ok && !isNull(raw) {
		if r.UsageIdentifierKey, err = str(raw, "usageIdentifierKey"); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func parsePolicy(raw json.RawMessage) (Policy, error) {
	fields, err := object(raw, "policyDocument")
	if err != nil {
		return Policy{}, err
	}
	var p Policy
	if raw, ok := fields["Version"]; ok {
		if p.Version, err = str(raw, "policyDocument.Version"); err != nil {
			return Policy{}, err
		}
		switch p.Version {
		case "2012-10-17", "2008-10-17": // the IAM policy language versions
		default:
			return Policy{}, fmt.Errorf("policyDocument.Version %q: want \"2012-10-17\"", p.Version)
		}
	}
	raw, ok := fields["Statement"]
	if !ok {
		return Policy{}, errors.New("policyDocument.Statement is missing")
	}
	// Statement is one object or an array of them.
	var list []json.RawMessage
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '{' {
		list = []json.RawMessage{trimmed}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return Policy{}, errors.New("policyDocument.Statement: want an object or an array of objects")
	}
	p.Statements = make([]Statement, 0, len(list))
	for i, raw := range list {
		s, err := parseStatement(raw, fmt.Sprintf("policyDocument.Statement[%d]", i))
		if err != nil {
			return Policy{}, err
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

func parseStatement(raw json.RawMessage, path string) (Statement, error) {
	fields, err := object(raw, path)
	if err != nil {
		return Statement{}, err
	}
	for k := range fields {
		// However it is spelled: ignoring a condition could allow what the
		// policy means to deny.
		if strings.EqualFold(k, "Condition") {
			return Statement{}, fmt.Errorf("%s: %w", path, ErrCondition)
		}
	}
	var s Statement
	raw, ok := fields["Effect"]
	if !ok {
		return Statement{}, fmt.Errorf("%s.Effect is missing", path)
	}
	effect, err := str(raw, path+".Effect")
	if err != nil {
		return Statement{}, err
	}
	switch effect {
	case "Allow":
		s.Effect = Allow
	case "Deny":
		s.Effect = Deny
	default:
		return Statement{}, fmt.Errorf("%s.Effect %q: want \"Allow\" or \"Deny\"", path, effect)
	}
	if s.Action, s.NotAction, err = patterns(fields, path, "Action"); err != nil {
		return Statement{}, err
	}
	if s.Resource, s.NotResource, err = patterns(fields, path, "Resource"); err != nil {
		return Statement{}, err
	}
	for _, r := range s.Resource {
		if !validResourcePattern(r) {
			return Statement{}, fmt.Errorf("%s: resource %q: want \"*\" or an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)", path, r)
		}
	}
	return s, nil
}

// patterns reads exactly one of NAME and NotNAME (Action or Resource), each
// a string or an array of strings.
func patterns(fields map[string]json.RawMessage, path, name string) (list []string, not bool, err error) {
	raw, has := fields[name]
	notRaw, hasNot := fields["Not"+name]
	switch {
	case has && hasNot:
		return nil, false, fmt.Errorf("%s has both %s and Not%s", path, name, name)
	case !has && !hasNot:
		return nil, false, fmt.Errorf("%s has neither %s nor Not%s", path, name, name)
	case hasNot:
		raw, not, name = notRaw, true, "Not"+name
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil && !isNull(raw) {
		return []string{one}, not, nil
	}
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		return nil, false, fmt.Errorf("%s.%s: want a string or an array of strings", path, name)
	}
	return list, not, nil
}

// parseContext reads the context object, stringifying its values as API
// Gateway does.
func parseContext(raw json.RawMessage) (map[string]string, error) {
	fields, err := object(raw, "context")
	if err != nil {
		return nil, err
	}
	ctx := make(map[string]string, len(fields))
	for k, v := range fields {
		v = bytes.TrimSpace(v)
		switch v[0] {
		case '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("context.%s: %v", k, err)
			}
			ctx[k] = s
		case 't', 'f':
			ctx[k] = string(v) // true or false: json.Unmarshal validated it
		case '{', '[', 'n':
			return nil, fmt.Errorf("context.%s is %s: context values must be strings, numbers or booleans", k, kindOf(v))
		default:
			ctx[k] = string(v) // a number, as its JSON text
		}
	}
	return ctx, nil
}

// object decodes a JSON object into its raw fields.
func object(data []byte, what string) (map[string]json.RawMessage, error) {
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("%s is not a JSON object", what)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %v", what, err)
	}
	return fields, nil
}

func str(raw json.RawMessage, path string) (string, error) {
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("%s: want a string, got %s", path, kindOf(raw))
	}
	return s, nil
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// kindOf names the JSON type of a valid JSON value, for errors.
func kindOf(raw json.RawMessage) string {
	switch raw = bytes.TrimSpace(raw); {
	case len(raw) == 0:
		return "nothing"
	case raw[0] == '{':
		return "an object"
	case raw[0] == '[':
		return "an array"
	case raw[0] == '"':
		return "a string"
	case raw[0] == 'n':
		return "null"
	case raw[0] == 't' || raw[0] == 'f':
		return "a boolean"
	}
	return "a number"
}
