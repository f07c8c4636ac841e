package sigv4

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// FuzzVerify feeds arbitrary Authorization headers, paths, queries and
// bodies to the verifier. The seeds are SDK-signed with a secret the
// verifier does not hold, so they reach the signature comparison, and no
// input may ever be accepted.
func FuzzVerify(f *testing.F) {
	const path = "/dev/@connections/R1kmxc2VNjMCFIA%3D"
	foreign := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "a-secret-the-verifier-lacks"}

	signed := signedServerRequest(f, foreign, testRegion, path, "hello")
	f.Add(signed.Header.Get("Authorization"), path, "", "hello")
	f.Add(signed.Header.Get("Authorization"), "/dev/%40connections/x", "a=1&b=%20&c", "")

	req, err := http.NewRequest(http.MethodGet, "http://example.com"+path+"?X-Amz-Expires=60", nil)
	if err != nil {
		f.Fatal(err)
	}
	presigned, _, err := v4.NewSigner().PresignHTTP(context.Background(), foreign, req, unsignedPayload, testService, testRegion, t0)
	if err != nil {
		f.Fatal(err)
	}
	u, err := url.Parse(presigned)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("", path, u.RawQuery, "")
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;, Signature=", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%2F%2F", "")
	f.Add("AWS4-HMAC-SHA256 ,,,=,=", "relative", "%", "")

	v := newTestVerifier(t0)
	f.Fuzz(func(t *testing.T, authz, path, query, body string) {
		target := path
		if query != "" {
			target += "?" + query
		}
		r := &http.Request{
			Method:     http.MethodPost,
			URL:        &url.URL{Path: path, RawQuery: query},
			RequestURI: target,
			Host:       "example.com",
			Header: http.Header{
				"Content-Type":          signed.Header["Content-Type"],
				"Content-Length":        signed.Header["Content-Length"],
				"Amz-Sdk-Invocation-Id": signed.Header["Amz-Sdk-Invocation-Id"],
				"Amz-Sdk-Request":       signed.Header["Amz-Sdk-Request"],
				"X-Amz-Date":            signed.Header["X-Amz-Date"],
			},
			ContentLength: int64(len(body)),
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		id, err := v.VerifyIdentity(r, []byte(body))
		if err == nil || id != "" {
			t.Fatalf("accepted: id %q, authz %q, path %q, query %q", id, authz, path, query)
		}
		var e *Error
		if !errors.As(err, &e) || e.Code == "" || e.Message == "" {
			t.Fatalf("bad error %#v", err)
		}
	})
}
