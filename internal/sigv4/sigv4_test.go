package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
)

const (
	testService = "execute-api"
	testRegion  = "us-east-1"

	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

	// tokenAKID is configured with a session token the request must carry.
	tokenAKID   = "ASIASESSIONEXAMPLE"
	tokenSecret = "session/secret+key"
	testToken   = "IQoJb3JpZ2luX2VjEXAMPLE//token+with/odd=chars"
)

// t0 is the verifier's clock in every test that does not move it.
var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

var (
	testCreds  = aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	tokenCreds = aws.Credentials{AccessKeyID: tokenAKID, SecretAccessKey: tokenSecret, SessionToken: testToken}
)

func newTestVerifier(now time.Time) *Verifier {
	return NewVerifier(testService, []Credential{
		{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		{AccessKeyID: tokenAKID, SecretAccessKey: tokenSecret, SessionToken: testToken},
	}, 0, func() time.Time { return now })
}

// newVerifyServer starts a server that reads the body and verifies it,
// answering 200 with the signing key id or 403 with the error code in
// X-Error-Code, the way the gateway would.
func newVerifyServer(t testing.TB, v *Verifier) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, err := v.VerifyIdentity(r, body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				http.Error(w, "not an *Error: "+err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("X-Error-Code", e.Code)
			w.Header().Set("X-Error-Reason", e.Reason)
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, e.Message)
			return
		}
		fmt.Fprint(w, id)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// amzAuthz builds an Authorization header for hand-made refusals.
func amzAuthz(credential, signedHeaders, signature string) string {
	return "AWS4-HMAC-SHA256 Credential=" + credential + ", SignedHeaders=" + signedHeaders + ", Signature=" + signature
}

const zeroSig = "0000000000000000000000000000000000000000000000000000000000000000"

type signCase struct {
	name    string
	method  string // default POST
	target  string // path as sent on the wire, plus optional ?query
	body    string
	header  map[string]string // set before signing
	chunked bool              // send the body without a length

	creds       *aws.Credentials // default testCreds
	service     string           // default testService
	signAt      time.Duration    // signing time relative to t0
	payloadHash string           // default sha256 of body (UNSIGNED-PAYLOAD when presigning)
	unsigned    bool             // send without signing
	presign     bool
	expires     int                 // X-Amz-Expires for presign; 0 leaves it out
	after       func(*http.Request) // tampering after signing

	wantCode string // "" means accepted
	wantMsg  string // substring of the client message
	wantID   string // access key reported on success; default creds' key
}

func TestVerifyRoundTrip(t *testing.T) {
	const connPath = "/dev/@connections/R1kmxc2VNjMCFIA%3D"
	date := t0.Format(amzDateLayout)
	goodScope := testAKID + "/" + t0.Format("20060102") + "/us-east-1/execute-api/aws4_request"
	setAuthz := func(v string) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set("X-Amz-Date", date)
			r.Header.Set("Authorization", v)
		}
	}

	cases := []signCase{
		{name: "post escaped equals", target: connPath, body: `{"message":"hello"}`},
		{name: "post percent-encoded at", target: "/dev/%40connections/R1kmxc2VNjMCFIA%3D", body: "hi"},
		{name: "post no stage", target: "/%40connections/x%3D", body: "hi"},
		{name: "id with escaped slash", target: "/dev/@connections/ab%2Fcd%3D", body: "hi"},
		{name: "id with escaped plus", target: "/dev/@connections/ab%2Bcd%3D%3D", body: "hi"},
		{name: "id with space and unicode", target: "/dev/@connections/a%20b%C3%A9", body: "hi"},
		{name: "get no body", method: http.MethodGet, target: connPath},
		{name: "delete no body", method: http.MethodDelete, target: connPath},
		{name: "empty path", method: http.MethodGet, target: "/"},
		{name: "query parameters", method: http.MethodGet, target: connPath + "?b=2&a=1&a=0&sp=a%20b&plus=x%2By&slash=a/b&dash=a-b&empty"},
		{name: "signed extra headers", target: connPath, body: "hi", header: map[string]string{
			"Content-Type": "application/json", "X-Spaces": "  a   b  ", "X-Amz-Meta-Foo": "bar",
		}},
		{name: "chunked body", target: connPath, body: "streamed", chunked: true},
		{name: "authorization without spaces", target: connPath, body: "hi",
			after: func(r *http.Request) {
				r.Header.Set("Authorization", strings.ReplaceAll(r.Header.Get("Authorization"), ", ", ","))
			}},
		{name: "within skew past", target: connPath, body: "hi", signAt: -4 * time.Minute},
		{name: "within skew future", target: connPath, body: "hi", signAt: 4 * time.Minute},
		{name: "content sha256 header", target: connPath, body: "hi", header: map[string]string{"X-Amz-Content-Sha256": sha256Hex("hi")}},
		{name: "unsigned payload", target: connPath, body: "hi", payloadHash: "UNSIGNED-PAYLOAD", header: map[string]string{"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"}},

		// Session tokens.
		{name: "configured token matches", target: connPath, body: "hi", creds: &tokenCreds, wantID: tokenAKID},
		{name: "configured token differs", target: connPath, body: "hi",
			creds:    &aws.Credentials{AccessKeyID: tokenAKID, SecretAccessKey: tokenSecret, SessionToken: "other"},
			wantCode: CodeInvalidToken, wantMsg: "security token included in the request is invalid"},
		{name: "configured token missing", target: connPath, body: "hi",
			creds:    &aws.Credentials{AccessKeyID: tokenAKID, SecretAccessKey: tokenSecret},
			wantCode: CodeInvalidToken},
		{name: "unconfigured token allowed", target: connPath, body: "hi",
			creds: &aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: "anything"}},

		// Identity and scope.
		{name: "wrong secret", target: connPath, body: "hi",
			creds:    &aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "not-the-secret"},
			wantCode: CodeInvalidSignature, wantMsg: "signature we calculated does not match"},
		{name: "unknown key", target: connPath, body: "hi",
			creds:    &aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret},
			wantCode: CodeUnrecognizedClient, wantMsg: "The security token included in the request is invalid."},
		{name: "wrong service", target: connPath, body: "hi", service: "execute-apix",
			wantCode: CodeInvalidSignature, wantMsg: "Credential should be scoped to correct service: 'execute-api'."},

		// Tampering.
		{name: "tampered body", target: connPath, body: "hello",
			after: func(r *http.Request) { setBody(r, "jello") }, wantCode: CodeInvalidSignature},
		{name: "tampered signed header", target: connPath, body: "hi", header: map[string]string{"Content-Type": "application/json"},
			after: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, wantCode: CodeInvalidSignature},
		{name: "tampered path", target: connPath, body: "hi",
			after: func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/dev/@connections/other", "" }, wantCode: CodeInvalidSignature},
		{name: "tampered method", target: connPath,
			after: func(r *http.Request) { r.Method = http.MethodDelete }, wantCode: CodeInvalidSignature},
		{name: "added query parameter", method: http.MethodGet, target: connPath,
			after: func(r *http.Request) { r.URL.RawQuery = "x=1" }, wantCode: CodeInvalidSignature},
		{name: "signed header removed", target: connPath, body: "hi", header: map[string]string{"X-Custom": "v"},
			after: func(r *http.Request) { r.Header.Del("X-Custom") }, wantCode: CodeInvalidSignature},
		{name: "content sha256 mismatch", target: connPath, body: "hi", payloadHash: sha256Hex("other"),
			header:   map[string]string{"X-Amz-Content-Sha256": sha256Hex("other")},
			wantCode: CodeInvalidSignature, wantMsg: "x-amz-content-sha256"},

		// Clock.
		{name: "expired", target: connPath, body: "hi", signAt: -6 * time.Minute,
			wantCode: CodeSignatureExpired, wantMsg: "Signature expired: 20261124T115400Z is now earlier than 20261124T115500Z (20261124T120000Z - 5 min.)"},
		{name: "future beyond skew", target: connPath, body: "hi", signAt: 6 * time.Minute,
			wantCode: CodeSignatureExpired, wantMsg: "Signature not yet current"},
		{name: "scope date differs from x-amz-date", target: connPath, unsigned: true,
			after:    setAuthz(amzAuthz(testAKID+"/20261123/us-east-1/execute-api/aws4_request", "host;x-amz-date", zeroSig)),
			wantCode: CodeInvalidSignature, wantMsg: "Date in Credential scope does not match"},

		// Missing and malformed authentication.
		{name: "missing authorization", target: connPath, body: "hi", unsigned: true,
			wantCode: CodeMissingAuthenticationToken, wantMsg: "Missing Authentication Token"},
		{name: "empty authorization", target: connPath, unsigned: true, after: setAuthz(""), wantCode: CodeIncompleteSignature},
		{name: "bearer token", target: connPath, unsigned: true, after: setAuthz("Bearer abc.def"),
			wantCode: CodeIncompleteSignature, wantMsg: "Authorization header requires 'Credential' parameter."},
		{name: "algorithm only", target: connPath, unsigned: true, after: setAuthz("AWS4-HMAC-SHA256"), wantCode: CodeIncompleteSignature},
		{name: "sigv4a algorithm", target: connPath, unsigned: true,
			after: setAuthz(strings.Replace(amzAuthz(goodScope, "host;x-amz-date", zeroSig), "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1)), wantCode: CodeIncompleteSignature},
		{name: "credential only", target: connPath, unsigned: true, after: setAuthz("AWS4-HMAC-SHA256 Credential=" + goodScope),
			wantCode: CodeIncompleteSignature, wantMsg: "requires 'Signature' parameter"},
		{name: "short credential", target: connPath, unsigned: true,
			after: setAuthz(amzAuthz(testAKID+"/20261124/us-east-1/execute-api", "host;x-amz-date", zeroSig)), wantCode: CodeIncompleteSignature},
		{name: "long credential", target: connPath, unsigned: true,
			after: setAuthz(amzAuthz(goodScope+"/x", "host;x-amz-date", zeroSig)), wantCode: CodeIncompleteSignature},
		{name: "bad terminator", target: connPath, unsigned: true,
			after: setAuthz(amzAuthz(strings.TrimSuffix(goodScope, "aws4_request")+"aws4_requestx", "host;x-amz-date", zeroSig)), wantCode: CodeInvalidSignature},
		{name: "empty region", target: connPath, unsigned: true,
			after: setAuthz(amzAuthz(testAKID+"/20261124//execute-api/aws4_request", "host;x-amz-date", zeroSig)), wantCode: CodeInvalidSignature},
		{name: "short signature", target: connPath, unsigned: true,
			after: setAuthz(amzAuthz(goodScope, "host;x-amz-date", "abc")), wantCode: CodeInvalidSignature},
		{name: "zero signature", target: connPath, unsigned: true,
			after: setAuthz(amzAuthz(goodScope, "host;x-amz-date", zeroSig)), wantCode: CodeInvalidSignature},
		{name: "host not signed", target: connPath, unsigned: true,
			after: setAuthz(amzAuthz(goodScope, "x-amz-date", zeroSig)), wantCode: CodeIncompleteSignature, wantMsg: "'Host'"},
		{name: "signed headers unsorted", target: connPath, unsigned: true,
			after: setAuthz(amzAuthz(goodScope, "x-amz-date;host", zeroSig)), wantCode: CodeIncompleteSignature},
		{name: "signed headers uppercase", target: connPath, unsigned: true,
			after: setAuthz(amzAuthz(goodScope, "Host;X-Amz-Date", zeroSig)), wantCode: CodeIncompleteSignature},
		{name: "signed headers empty name", target: connPath, unsigned: true,
			after: setAuthz(amzAuthz(goodScope, "host;;x-amz-date", zeroSig)), wantCode: CodeIncompleteSignature},
		{name: "bad x-amz-date", target: connPath, unsigned: true,
			after: func(r *http.Request) {
				setAuthz(amzAuthz(goodScope, "host;x-amz-date", zeroSig))(r)
				r.Header.Set("X-Amz-Date", "2026-11-24T12:00:00Z")
			},
			wantCode: CodeIncompleteSignature, wantMsg: "ISO-8601"},
		{name: "no date", target: connPath, unsigned: true,
			after: func(r *http.Request) {
				setAuthz(amzAuthz(goodScope, "host;x-amz-date", zeroSig))(r)
				r.Header.Del("X-Amz-Date")
			},
			wantCode: CodeIncompleteSignature, wantMsg: "'X-Amz-Date' or a 'Date' header"},
		{name: "two authorization headers", target: connPath, body: "hi",
			after: func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, wantCode: CodeIncompleteSignature},

		// Presigned query form.
		{name: "presigned get", method: http.MethodGet, target: connPath, presign: true, expires: 300},
		{name: "presigned with query", method: http.MethodGet, target: connPath + "?b=2&a=x%2Fy", presign: true, expires: 60},
		{name: "presigned without expires", method: http.MethodGet, target: connPath, presign: true},
		{name: "presigned body hash", target: connPath, body: "hi", presign: true, expires: 60, payloadHash: sha256Hex("hi")},
		{name: "presigned session token", method: http.MethodGet, target: connPath, presign: true, expires: 60, creds: &tokenCreds, wantID: tokenAKID},
		{name: "presigned still valid", method: http.MethodGet, target: connPath, presign: true, expires: 600, signAt: -9 * time.Minute},
		{name: "presigned expired", method: http.MethodGet, target: connPath, presign: true, expires: 300, signAt: -6 * time.Minute,
			wantCode: CodeSignatureExpired, wantMsg: "Request has expired"},
		{name: "presigned from the future", method: http.MethodGet, target: connPath, presign: true, expires: 3600, signAt: 10 * time.Minute,
			wantCode: CodeSignatureExpired},
		{name: "presigned expires too long", method: http.MethodGet, target: connPath, presign: true, expires: 604801,
			wantCode: CodeIncompleteSignature},
		{name: "presigned wrong secret", method: http.MethodGet, target: connPath, presign: true, expires: 60,
			creds: &aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "nope"}, wantCode: CodeInvalidSignature},
		{name: "presigned tampered query", method: http.MethodGet, target: connPath + "?a=1", presign: true, expires: 60,
			after: func(r *http.Request) {
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "a=1", "a=2", 1)
			},
			wantCode: CodeInvalidSignature},
		{name: "presigned expiry extended", method: http.MethodGet, target: connPath, presign: true, expires: 60,
			after: func(r *http.Request) {
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=60", "X-Amz-Expires=600", 1)
			},
			wantCode: CodeInvalidSignature},
		{name: "presigned tampered body", target: connPath, body: "hello", presign: true, expires: 60, payloadHash: sha256Hex("hello"),
			after: func(r *http.Request) { setBody(r, "jello") }, wantCode: CodeInvalidSignature},
		{name: "presigned and header", method: http.MethodGet, target: connPath, presign: true, expires: 60,
			after: func(r *http.Request) { r.Header.Set("Authorization", amzAuthz(goodScope, "host", zeroSig)) }, wantCode: CodeIncompleteSignature},
		{name: "presigned missing signature", method: http.MethodGet, target: connPath + "?X-Amz-Algorithm=AWS4-HMAC-SHA256", unsigned: true,
			wantCode: CodeIncompleteSignature, wantMsg: "AWS query-string parameters must include"},
	}

	srv := newVerifyServer(t, newTestVerifier(t0))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.request(t, srv.URL)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			code := resp.Header.Get("X-Error-Code")
			if tc.wantCode == "" {
				want := tc.wantID
				if want == "" {
					want = tc.signingCreds().AccessKeyID
				}
				if resp.StatusCode != http.StatusOK || string(msg) != want {
					t.Fatalf("refused: %d %s: %s (%s)", resp.StatusCode, code, msg, resp.Header.Get("X-Error-Reason"))
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden || code != tc.wantCode {
				t.Fatalf("got %d %q (%s), want 403 %q", resp.StatusCode, code, msg, tc.wantCode)
			}
			t.Logf("refused: %s", resp.Header.Get("X-Error-Reason"))
			if !strings.Contains(string(msg), tc.wantMsg) {
				t.Errorf("message %q does not contain %q", msg, tc.wantMsg)
			}
		})
	}
}

func (tc *signCase) signingCreds() aws.Credentials {
	if tc.creds != nil {
		return *tc.creds
	}
	return testCreds
}

// request builds the client request for tc against baseURL and signs it
// with the SDK signer.
func (tc *signCase) request(t *testing.T, baseURL string) *http.Request {
	t.Helper()
	method := tc.method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if tc.body != "" {
		body = strings.NewReader(tc.body)
	}
	if tc.chunked {
		body = struct{ io.Reader }{body} // hides the length: chunked encoding
	}
	req, err := http.NewRequest(method, baseURL+tc.target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tc.header {
		req.Header.Set(k, v)
	}
	service := tc.service
	if service == "" {
		service = testService
	}
	payloadHash := tc.payloadHash
	signAt := t0.Add(tc.signAt)
	// A fresh signer each time: the SDK caches derived keys by access key
	// id alone, which would hide a changed secret.
	signer := v4.NewSigner()
	switch {
	case tc.unsigned:
	case tc.presign:
		if payloadHash == "" {
			payloadHash = "UNSIGNED-PAYLOAD"
		}
		if tc.expires > 0 {
			q := req.URL.Query()
			q.Set("X-Amz-Expires", strconv.Itoa(tc.expires))
			req.URL.RawQuery = q.Encode()
		}
		signed, headers, err := signer.PresignHTTP(context.Background(), tc.signingCreds(), req, payloadHash, service, testRegion, signAt)
		if err != nil {
			t.Fatal(err)
		}
		presigned, err := http.NewRequest(method, signed, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range headers {
			if k != "Host" {
				presigned.Header[k] = v
			}
		}
		req = presigned
	default:
		if payloadHash == "" {
			payloadHash = sha256Hex(tc.body)
		}
		if err := signer.SignHTTP(context.Background(), tc.signingCreds(), req, payloadHash, service, testRegion, signAt); err != nil {
			t.Fatal(err)
		}
	}
	if tc.after != nil {
		tc.after(req)
	}
	return req
}

func setBody(r *http.Request, body string) {
	r.Body = io.NopCloser(strings.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
}

// TestAWSTestSuite checks vectors from AWS's published SigV4 test suite.
func TestAWSTestSuite(t *testing.T) {
	now := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	v := NewVerifier("service", []Credential{{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}}, 0,
		func() time.Time { return now })
	for _, tc := range []struct{ name, target, sig string }{
		{"get-vanilla", "/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"get-vanilla-query-order-key-case", "/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			r.Host = "example.amazonaws.com"
			r.Header.Set("X-Amz-Date", "20150830T123600Z")
			r.Header.Set("Authorization", amzAuthz("AKIDEXAMPLE/20150830/us-east-1/service/aws4_request", "host;x-amz-date", tc.sig))
			if err := v.Verify(r, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDateHeader signs with the Date header instead of X-Amz-Date, which
// the SDKs never do, so the canonical request is written out by hand.
func TestDateHeader(t *testing.T) {
	v := newTestVerifier(t0)
	httpDate := t0.Format(http.TimeFormat)
	canonical := "GET\n/dev/%2540connections/abc\n\n" +
		"date:" + httpDate + "\nhost:example.com\n\n" +
		"date;host\n" + sha256Hex("")
	scope := t0.Format("20060102") + "/us-east-1/execute-api/aws4_request"
	stringToSign := "AWS4-HMAC-SHA256\n" + t0.Format(amzDateLayout) + "\n" + scope + "\n" + sha256Hex(canonical)
	key := []byte("AWS4" + testSecret)
	for _, part := range strings.Split(scope, "/") {
		key = hmacSum(key, part)
	}
	sig := hex.EncodeToString(hmacSum(key, stringToSign))

	r := httptest.NewRequest(http.MethodGet, "/dev/%40connections/abc", nil)
	r.Host = "example.com"
	r.Header.Set("Date", httpDate)
	r.Header.Set("Authorization", amzAuthz(testAKID+"/"+scope, "date;host", sig))
	if err := v.Verify(r, nil); err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Date", t0.Add(time.Second).Format(http.TimeFormat))
	if err := v.Verify(r, nil); !hasCode(err, CodeInvalidSignature) {
		t.Fatalf("changed Date: got %v, want %s", err, CodeInvalidSignature)
	}
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

func TestCanonicalURI(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "/",
		"/":                             "/",
		"/dev/@connections/abc%3D":      "/dev/%40connections/abc%253D",
		"/%40connections/x%3D":          "/%2540connections/x%253D",
		"/dev/@connections/a%2Fb%2Bc":   "/dev/%40connections/a%252Fb%252Bc",
		"/a/./b/../c//d":                "/a/./b/../c//d",
		"/~user/A-Z_a-z.0-9":            "/~user/A-Z_a-z.0-9",
		"/sp ace/+plus/*star/!bang/$/é": "/sp%20ace/%2Bplus/%2Astar/%21bang/%24/%C3%A9",
	} {
		if got := string(appendCanonicalURI(nil, in)); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "",
		"b=2&a=1":             "a=1&b=2",
		"a=2&a=1&a=10":        "a=1&a=10&a=2",
		"a=x+y&b=x%2By":       "a=x%20y&b=x%2By",
		"k&=v&&x=":            "=v&k=&x=",
		"a/b=1&a-b=2":         "a%2Fb=1&a-b=2", // sorted after encoding: % < -
		"v=%7e%2d&w=~-":       "v=~-&w=~-",
		"semi=a;b":            "semi=a%3Bb",
		"X-Amz-Signature=abc": "X-Amz-Signature=abc",
	} {
		s := &scratch{}
		if err := s.parseQuery(in); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := string(s.appendCanonicalQuery(nil, false)); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	s := &scratch{}
	if err := s.parseQuery("a=%zz"); !hasCode(err, CodeIncompleteSignature) {
		t.Errorf("bad escape: got %v", err)
	}
}

func TestHeaderValue(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"  a   b  ":     "a b",
		"\t a \t  b \t": "a \t b",
		"a,  b":         "a, b",
	} {
		if got := string(appendHeaderValue(nil, in)); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// TestManagementAPIClient drives the real apigatewaymanagementapi client
// against a verifying server.
func TestManagementAPIClient(t *testing.T) {
	const connID = "R1kmxc2VNjMCFIA="
	v := NewVerifier(testService, []Credential{
		{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		{AccessKeyID: tokenAKID, SecretAccessKey: tokenSecret, SessionToken: testToken},
	}, 0, nil)
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.RequestURI)
		mu.Unlock()
		if err := v.Verify(r, body); err != nil {
			e := err.(*Error)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-Errortype", e.Code+"Exception")
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(map[string]string{"message": e.Message})
			return
		}
		switch r.Method {
		case http.MethodPost:
			if string(body) != "hello" {
				http.Error(w, "bad body", http.StatusBadRequest)
			}
		case http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"connectedAt":"2026-01-01T00:00:00.000Z","identity":{"sourceIp":"1.2.3.4","userAgent":"x"},"lastActiveAt":"2026-01-01T00:00:00.000Z"}`)
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()

	newClient := func(creds aws.Credentials) *apigatewaymanagementapi.Client {
		return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
			BaseEndpoint:     aws.String(srv.URL + "/dev"),
			Region:           testRegion,
			Credentials:      staticCreds{creds},
			RetryMaxAttempts: 1,
		})
	}
	ctx := context.Background()
	client := newClient(testCreds)
	if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(connID), Data: []byte("hello"),
	}); err != nil {
		t.Fatalf("PostToConnection: %v", err)
	}
	out, err := client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(connID)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if out.Identity == nil || aws.ToString(out.Identity.SourceIp) != "1.2.3.4" {
		t.Errorf("GetConnection identity = %+v", out.Identity)
	}
	if _, err := client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(connID)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}

	if _, err := newClient(tokenCreds).GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(connID)}); err != nil {
		t.Fatalf("GetConnection with session token: %v", err)
	}

	_, err = newClient(aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "wrong"}).PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(connID), Data: []byte("hello"),
	})
	if err == nil || !strings.Contains(err.Error(), "InvalidSignature") {
		t.Fatalf("wrong secret: got %v, want an InvalidSignature error", err)
	}

	// The SDK sends the id's '=' escaped and '@' as is; the verifier must
	// encode that wire form a second time.
	const wire = "/dev/@connections/R1kmxc2VNjMCFIA%3D"
	want := []string{"POST " + wire, "GET " + wire, "DELETE " + wire, "GET " + wire, "POST " + wire}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests seen:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

type staticCreds struct{ aws.Credentials }

func (c staticCreds) Retrieve(context.Context) (aws.Credentials, error) { return c.Credentials, nil }

// TestConcurrentVerify exercises the key cache from many goroutines.
func TestConcurrentVerify(t *testing.T) {
	v := newTestVerifier(t0)
	reqs := make([]*http.Request, 0, 8)
	for i := range cap(reqs) {
		region := fmt.Sprintf("region-%d", i%4)
		reqs = append(reqs, signedServerRequest(t, testCreds, region, "/dev/@connections/abc%3D", "hello"))
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				r := reqs[(g+i)%len(reqs)]
				if err := v.Verify(r, []byte("hello")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestKeyCache checks that failures are not cached and that the cache stays
// bounded.
func TestKeyCache(t *testing.T) {
	v := newTestVerifier(t0)
	bad := signedServerRequest(t, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "wrong"}, testRegion, "/x", "b")
	if err := v.Verify(bad, []byte("b")); !hasCode(err, CodeInvalidSignature) {
		t.Fatalf("got %v", err)
	}
	if n := len(v.keys); n != 0 {
		t.Fatalf("failed verification cached %d keys", n)
	}
	for i := range keyCacheLimit + 10 {
		r := signedServerRequest(t, testCreds, "r"+strconv.Itoa(i), "/x", "b")
		if err := v.Verify(r, []byte("b")); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(v.keys); n == 0 || n > keyCacheLimit {
		t.Fatalf("cache holds %d keys, want 1..%d", n, keyCacheLimit)
	}
}

func TestErrorString(t *testing.T) {
	err := error(&Error{Code: CodeInvalidSignature, Message: "m", Reason: "r"})
	if got := err.Error(); got != "sigv4: InvalidSignature: r" {
		t.Errorf("got %q", got)
	}
	if got := (&Error{Code: CodeMissingAuthenticationToken, Message: "m"}).Error(); got != "sigv4: MissingAuthenticationToken: m" {
		t.Errorf("got %q", got)
	}
	if err := newTestVerifier(t0).Verify(nil, nil); !hasCode(err, CodeMissingAuthenticationToken) {
		t.Errorf("nil request: got %v", err)
	}
}

// signedServerRequest returns a POST as the server would see it, signed by
// the SDK at t0.
func signedServerRequest(t testing.TB, creds aws.Credentials, region, target, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://example.com"+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Amz-Sdk-Invocation-Id", "0b7c8e5a-5c4b-4c41-9b27-8a8e1a2c3d4e")
	req.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), testService, region, t0); err != nil {
		t.Fatal(err)
	}
	sr := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	sr.Host = "example.com"
	for k, v := range req.Header {
		sr.Header[k] = v
	}
	sr.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return sr
}
