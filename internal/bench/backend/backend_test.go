package backend

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTopLevelString(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`{"body":"hi"}`, `"hi"`, true},
		{` { "a" : 1 , "body" : "x\"y\\" } `, `"x\"y\\"`, true},
		{`{"headers":{"body":"nested"},"requestContext":{"x":[1,"]",{"body":2}]},"body":"top"}`, `"top"`, true},
		{`{"b\"ody":"no","body":"yes"}`, `"yes"`, true},
		{`{"note":"has \"body\":\"fake\" inside"}`, ``, false},
		{`{"body":null}`, ``, false},
		{`{"requestContext":{"routeKey":"$connect"},"isBase64Encoded":false}`, ``, false},
		{`[1,2]`, ``, false},
		{`{"body":"unterminated`, ``, false},
		{``, ``, false},
	} {
		got, ok := TopLevelString([]byte(tc.in), "body")
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("TopLevelString(%s) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAppendStringIsJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `{"action":"echo","t":1}`, "tab\tnl\ncr\r\x01\x1f back\\slash é"} {
		enc := AppendString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(enc, &back); err != nil || back != s {
			t.Errorf("AppendString(%q) = %s: decodes to %q, %v", s, enc, back, err)
		}
	}
}

func TestHandlerAnswersProxyResponses(t *testing.T) {
	h := &Handler{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tc := range []struct{ event, want string }{
		{`{"requestContext":{"eventType":"MESSAGE"},"body":"{\"action\":\"echo\"}","isBase64Encoded":false}`,
			`{"statusCode":200,"body":"{\"action\":\"echo\"}"}`},
		{`{"requestContext":{"eventType":"CONNECT"},"headers":{"Host":"x"}}`, `{"statusCode":200}`},
	} {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(tc.event))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != tc.want {
			t.Errorf("response to %s = %s, want %s", tc.event, b, tc.want)
		}
	}
	if h.Requests() != 2 {
		t.Errorf("requests = %d, want 2", h.Requests())
	}
}
