package authorizer

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/switchboardgw/switchboard/internal/awsapi"
)

func TestParseIdentitySource(t *testing.T) {
	tests := []struct {
		in   string
		want []Source
	}{
		{"route.request.header.Auth", []Source{{SourceHeader, "Auth"}}},
		{"route.request.header.Auth, route.request.querystring.Name", []Source{{SourceHeader, "Auth"}, {SourceQueryString, "Name"}}},
		{"  route.request.querystring.token ,stageVariables.StageVar1,\tcontext.identity.sourceIp ",
			[]Source{{SourceQueryString, "token"}, {SourceStageVariable, "StageVar1"}, {SourceContext, "identity.sourceIp"}}},
		{"context.connectionId,context.routeKey", []Source{{SourceContext, "connectionId"}, {SourceContext, "routeKey"}}},
		{"route.request.header.X-Api-Key", []Source{{SourceHeader, "X-Api-Key"}}},
		{"route.request.querystring.a.b[0]", []Source{{SourceQueryString, "a.b[0]"}}},
		{"route.request.querystring.日本", []Source{{SourceQueryString, "日本"}}},
		{"stageVariables.a-b.c_d~e:f/g?h#i&j=k", []Source{{SourceStageVariable, "a-b.c_d~e:f/g?h#i&j=k"}}},
		{"route.request.header.A,route.request.header.A", []Source{{SourceHeader, "A"}, {SourceHeader, "A"}}},
	}
	for _, tt := range tests {
		got, err := ParseIdentitySource(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseIdentitySource(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseIdentitySourceErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // a part of the error text
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"route.request.header.Auth,", "item 2: empty item"},
		{",route.request.header.Auth", "item 1: empty item"},
		{"route.request.header.A,,route.request.header.B", "item 2: empty item"},
		{"route.request.header.", "name after \"route.request.header.\" is empty"},
		{"route.request.querystring.", "is empty"},
		{"stageVariables.", "is empty"},
		{"context.", "is empty"},
		{"route.request.body.token", "want route.request.header.NAME"},
		{"Route.Request.Header.Auth", "want route.request.header.NAME"},
		{"header.Auth", "want route.request.header.NAME"},
		{"$request.header.Auth", `without "$": write route.request.header.Auth`},
		{"$route.request.header.Auth", `without "$": write route.request.header.Auth`},
		{"$context.connectionId", `without "$": write context.connectionId`},
		{"$stageVariables.v", `without "$": write stageVariables.v`},
		{"$request.querystring.t", "write route.request.querystring.t"},
		{"$nonsense", `without "$"`},
		{"method.request.header.Auth", "write route.request.header.Auth"},
		{"request.querystring.token", "write route.request.querystring.token"},
		{"route.request.header.Bad Name", "not a valid header name"},
		{"route.request.header.Bad:Name", "not a valid header name"},
		{"route.request.querystring.a b", "space"},
		{"route.request.querystring.a\x00", "control"},
		{"route.request.querystring.\xff", "invalid UTF-8"},
		{"stageVariables.a b", "stage variable name"},
		{"stageVariables.é", "stage variable name"},
		{"context.nope", `unknown context variable "nope"`},
		{"context.messageId", "unknown context variable"}, // MESSAGE only
		{"context.disconnectReason", "unknown context variable"},
	}
	for _, tt := range tests {
		got, err := ParseIdentitySource(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseIdentitySource(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
		}
	}
	// A hint is given only when it would parse.
	if _, err := ParseIdentitySource("$request.body.x"); err == nil || strings.Contains(err.Error(), "write") {
		t.Errorf("$request.body.x: %v; want no hint", err)
	}
}

func TestFormatIdentitySource(t *testing.T) {
	in := []Source{{SourceHeader, "Auth"}, {SourceQueryString, "t"}, {SourceStageVariable, "v"}, {SourceContext, "stage"}}
	want := "route.request.header.Auth, route.request.querystring.t, stageVariables.v, context.stage"
	if got := FormatIdentitySource(in); got != want {
		t.Errorf("FormatIdentitySource = %q, want %q", got, want)
	}
}

func lookupEvent() *awsapi.Event {
	return &awsapi.Event{
		Type: awsapi.Connect, RouteKey: "$connect", ConnectionID: "Dwz4leekPHcCG6Q=", Stage: "prod", SourceIP: "10.0.0.1",
		Headers: []awsapi.Header{
			{Name: "Host", Value: "h"}, {Name: "authorization", Value: "first"}, {Name: "Authorization", Value: "Bearer t"},
			{Name: "X-Empty", Value: ""}, {Name: "kid", Value: "x"}, {Name: "X-Last-Empty", Value: "v"}, {Name: "x-last-empty", Value: ""},
		},
		Query:          url.Values{"token": {"abc"}, "Token": {"upper"}, "blank": {""}, "multi": {"1", "2"}},
		StageVariables: map[string]string{"env": "test", "none": ""},
	}
}

func TestLookup(t *testing.T) {
	ev := lookupEvent()
	tests := []struct {
		src    Source
		want   string
		wantOK bool
	}{
		{Source{SourceHeader, "Authorization"}, "Bearer t", true}, // last value
		{Source{SourceHeader, "AUTHORIZATION"}, "Bearer t", true}, // case-insensitive
		{Source{SourceHeader, "host"}, "h", true},
		{Source{SourceHeader, "X-Empty"}, "", false},
		{Source{SourceHeader, "X-Last-Empty"}, "", false}, // the last value is the one that counts
		{Source{SourceHeader, "Missing"}, "", false},
		{Source{SourceHeader, "Authorizatio"}, "", false},
		{Source{SourceHeader, "KID"}, "x", true},
		{Source{SourceHeader, "\u212Aid"}, "", false}, // the Kelvin sign folds to "k" in Unicode, not in HTTP
		{Source{SourceQueryString, "token"}, "abc", true},
		{Source{SourceQueryString, "Token"}, "upper", true}, // exact
		{Source{SourceQueryString, "TOKEN"}, "", false},
		{Source{SourceQueryString, "blank"}, "", false},
		{Source{SourceQueryString, "multi"}, "2", true},
		{Source{SourceStageVariable, "env"}, "test", true},
		{Source{SourceStageVariable, "none"}, "", false},
		{Source{SourceStageVariable, "missing"}, "", false},
		{Source{SourceContext, "connectionId"}, "Dwz4leekPHcCG6Q=", true},
		{Source{SourceContext, "identity.sourceIp"}, "10.0.0.1", true},
		{Source{SourceContext, "identity.userAgent"}, "", false}, // defined but empty
		{Source{SourceContext, "messageId"}, "", false},
	}
	for _, tt := range tests {
		got, ok := tt.src.Lookup(ev)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%v.Lookup = %q, %v; want %q, %v", tt.src, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestValues(t *testing.T) {
	ev := lookupEvent()
	srcs, err := ParseIdentitySource("route.request.header.authorization, route.request.querystring.token, stageVariables.env")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Values(nil, srcs, ev)
	if err != nil || !slices.Equal(got, []string{"Bearer t", "abc", "test"}) {
		t.Errorf("Values = %q, %v", got, err)
	}

	srcs = append(srcs, Source{SourceQueryString, "blank"}, Source{SourceHeader, "Missing"})
	_, err = Values(nil, srcs, ev)
	var missing *MissingSourceError
	if !errors.As(err, &missing) || missing.Source != (Source{SourceQueryString, "blank"}) {
		t.Fatalf("Values with two missing sources: %v; want the first one reported", err)
	}
	if want := "identity source route.request.querystring.blank is missing or empty"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if got, err := Values(nil, nil, ev); err != nil || len(got) != 0 {
		t.Errorf("Values without sources = %q, %v", got, err)
	}
}

func FuzzParseIdentitySource(f *testing.F) {
	for _, s := range []string{
		"route.request.header.Auth",
		"route.request.header.Auth, route.request.querystring.Name",
		" stageVariables.v ,context.identity.sourceIp",
		"$request.header.x", "method.request.header.x", ",", "route.request.querystring.日本,context.stage",
		"route.request.header.", "context.nope", "\t,\t",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		srcs, err := ParseIdentitySource(s)
		if err != nil {
			if srcs != nil {
				t.Fatalf("ParseIdentitySource(%q) returned %v with error %v", s, srcs, err)
			}
			return
		}
		if len(srcs) == 0 {
			t.Fatalf("ParseIdentitySource(%q) returned no sources and no error", s)
		}
		formatted := FormatIdentitySource(srcs)
		again, err := ParseIdentitySource(formatted)
		if err != nil {
			t.Fatalf("%q parsed to %v, formatted to %q, which does not parse: %v", s, srcs, formatted, err)
		}
		if !slices.Equal(again, srcs) {
			t.Fatalf("%q parsed to %v, formatted to %q, which parses to %v", s, srcs, formatted, again)
		}
		if FormatIdentitySource(again) != formatted {
			t.Fatalf("formatting is not stable for %q", formatted)
		}
	})
}
