package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gobwas/ws"
	"github.com/golang-jwt/jwt/v5"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// recordedYAML routes $connect and $default to rec, with extra YAML
// before the integrations and extra keys on the $connect route.
func recordedYAML(rec *recorder, top, connect string) string {
	return sbt.ManagementYAML + top + `
integrations:
  rec: {type: AWS_PROXY, uri: "` + rec.URL + `"}
routes:
  $connect: {integration: rec` + connect + `}
  $default: {integration: rec, routeResponseSelectionExpression: $default}
`
}

// refusedWith dials and expects the handshake to be refused with status.
func refusedWith(t *testing.T, url string, opts sbt.DialOptions, status int) {
	t.Helper()
	_, err := sbt.Dial(t, url, opts)
	var se ws.StatusError
	if !errors.As(err, &se) || int(se) != status {
		t.Fatalf("dial: %v, want HTTP %d", err, status)
	}
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestOriginAllowList(t *testing.T) {
	ts := sbt.RunServer(t, strings.Replace(whoamiYAML, "integrations:",
		`origins: {allow: ["https://app.example.com", "https://*.example.org"]}`+"\nintegrations:", 1))
	for _, o := range []string{"https://app.example.com", "https://a.b.example.org"} {
		c, err := sbt.Dial(t, ts.URL, sbt.DialOptions{Header: header("Origin", o)})
		if err != nil {
			t.Fatalf("origin %s: %v", o, err)
		}
		c.Close(1000, "")
	}
	sbt.MustDial(t, ts.URL) // no Origin: not a browser, allowed unless requireOrigin
	for _, o := range []string{"https://evil.example", "https://example.org", "http://app.example.com"} {
		refusedWith(t, ts.URL, sbt.DialOptions{Header: header("Origin", o)}, http.StatusForbidden)
	}

	strict := sbt.RunServer(t, strings.Replace(whoamiYAML, "integrations:",
		`origins: {allow: ["https://app.example.com"], requireOrigin: true}`+"\nintegrations:", 1))
	refusedWith(t, strict.URL, sbt.DialOptions{}, http.StatusForbidden)
}

func TestTrustedProxies(t *testing.T) {
	const ipYAML = sbt.ManagementYAML + `%s
integrations:
  ip: {type: MOCK, response: {body: $context.identity.sourceIp}}
routes:
  $default: {integration: ip, routeResponseSelectionExpression: $default}
`
	spoof := sbt.DialOptions{Header: header("X-Forwarded-For", "198.51.100.1, 203.0.113.7")}

	untrusted := sbt.RunServer(t, strings.Replace(ipYAML, "%s", "", 1))
	c, _ := sbt.Dial(t, untrusted.URL, spoof)
	c.SendText("ip")
	c.ExpectText("127.0.0.1")

	trusted := sbt.RunServer(t, strings.Replace(ipYAML, "%s", "trustedProxies: [127.0.0.0/8]", 1))
	c, _ = sbt.Dial(t, trusted.URL, spoof)
	c.SendText("ip")
	c.ExpectText("203.0.113.7")
	c = sbt.MustDial(t, trusted.URL) // no header: the peer
	c.SendText("ip")
	c.ExpectText("127.0.0.1")
}

// writeCert writes a self-signed certificate for 127.0.0.1 to dir and
// returns a pool trusting it.
func writeCert(t testing.TB, dir string, serial int64) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "switchboard test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	pool := writeCert(t, dir, 1)
	ts := sbt.RunServer(t, strings.Replace(whoamiYAML, "integrations:",
		"tls: {certFile: "+filepath.Join(dir, "tls.crt")+", keyFile: "+filepath.Join(dir, "tls.key")+"}\nintegrations:", 1))
	if !strings.HasPrefix(ts.URL, "wss://") {
		t.Fatalf("URL %s", ts.URL)
	}
	c, err := sbt.Dial(t, ts.URL, sbt.DialOptions{TLS: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	id := connectionID(c)

	// The management API is served over TLS on the same listener.
	opts := sbt.ManagementClient(ts.HTTP, sbt.AccessKeyID, sbt.SecretAccessKey).Options()
	opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	mgmt := apigatewaymanagementapi.New(opts)
	if _, err := mgmt.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id), Data: []byte("over tls")}); err != nil {
		t.Fatal(err)
	}
	c.ExpectText("over tls")

	// Older than TLS 1.2 is refused.
	if _, err := sbt.Dial(t, ts.URL, sbt.DialOptions{TLS: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}); err == nil {
		t.Error("a TLS 1.1 client connected")
	}
	// Plain ws:// to a TLS listener gets nowhere.
	if _, err := sbt.Dial(t, "ws://"+ts.Addr+"/dev", sbt.DialOptions{}); err == nil {
		t.Error("a plain-text client connected to the TLS listener")
	}

	// Reload picks up a new certificate; open connections stay.
	newPool := writeCert(t, dir, 2)
	if err := ts.Reload(); err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", ts.Addr, &tls.Config{RootCAs: newPool})
	if err != nil {
		t.Fatalf("after reload: %v", err)
	}
	if serial := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); serial != 2 {
		t.Errorf("serving certificate %d after reload, want 2", serial)
	}
	conn.Close()
	c.SendText("who")
	c.ExpectText(id)

	// A broken file keeps the old certificate.
	os.WriteFile(filepath.Join(dir, "tls.key"), []byte("garbage"), 0o600)
	if err := ts.Reload(); err == nil {
		t.Error("Reload accepted a broken key")
	}
	if _, err := sbt.Dial(t, ts.URL, sbt.DialOptions{TLS: &tls.Config{RootCAs: newPool}}); err != nil {
		t.Errorf("after a failed reload: %v", err)
	}
}

func TestAPIKeys(t *testing.T) {
	rec := newRecorder(t)
	sum := sha256.Sum256([]byte("file-key-0123456789abcdef"))
	keysFile := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(keysFile, []byte("# id sha256\nfromfile "+hex.EncodeToString(sum[:])+"\n"), 0o600)
	ts := sbt.RunServer(t, recordedYAML(rec, `
apiKeys:
  - {id: k1, value: "config-key-0123456789abcdef"}
apiKeysFile: `+keysFile, ", apiKeyRequired: true"))

	c, err := sbt.Dial(t, ts.URL, sbt.DialOptions{Header: header("x-api-key", "config-key-0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	id := rec.last(t, "CONNECT")["identity"].(map[string]any)
	if id["apiKey"] != "config-key-0123456789abcdef" || id["apiKeyId"] != "k1" {
		t.Errorf("CONNECT identity %v", id)
	}
	c.SendText("hi")
	c.ExpectText("ok")
	if id := rec.last(t, "MESSAGE")["identity"].(map[string]any); id["apiKeyId"] != "k1" {
		t.Errorf("MESSAGE identity %v", id)
	}
	if _, err := sbt.Dial(t, ts.URL, sbt.DialOptions{Header: header("X-API-Key", "file-key-0123456789abcdef")}); err != nil {
		t.Errorf("key from the file: %v", err)
	}
	refusedWith(t, ts.URL, sbt.DialOptions{}, http.StatusForbidden)
	refusedWith(t, ts.URL, sbt.DialOptions{Header: header("x-api-key", "wrong-key-0123456789abcdef")}, http.StatusForbidden)

	// Reload reads the file again.
	sum = sha256.Sum256([]byte("rotated-key-0123456789abcdef"))
	os.WriteFile(keysFile, []byte("rotated "+hex.EncodeToString(sum[:])+"\n"), 0o600)
	if err := ts.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := sbt.Dial(t, ts.URL, sbt.DialOptions{Header: header("x-api-key", "rotated-key-0123456789abcdef")}); err != nil {
		t.Errorf("rotated key: %v", err)
	}
	refusedWith(t, ts.URL, sbt.DialOptions{Header: header("x-api-key", "file-key-0123456789abcdef")}, http.StatusForbidden)
}

func TestIAMOnConnect(t *testing.T) {
	rec := newRecorder(t)
	ts := sbt.RunServer(t, recordedYAML(rec, `
iam:
  credentials:
    - {accessKeyId: AKIDCLIENT, secretAccessKey: client-secret, accountId: "123456789012", userArn: "arn:aws:iam::123456789012:user/alice", user: alice, caller: AIDAALICE}
`, ", authorizationType: AWS_IAM"))
	creds := aws.Credentials{AccessKeyID: "AKIDCLIENT", SecretAccessKey: "client-secret"}
	httpURL := "http" + strings.TrimPrefix(ts.URL, "ws") + "?room=1"
	emptyHash := hex.EncodeToString(sha256.New().Sum(nil))
	signer := v4.NewSigner()

	// Header form: the signed headers are replayed on the upgrade.
	req, _ := http.NewRequest(http.MethodGet, httpURL, nil)
	if err := signer.SignHTTP(context.Background(), creds, req, emptyHash, "execute-api", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for _, k := range []string{"Authorization", "X-Amz-Date"} {
		h.Set(k, req.Header.Get(k))
	}
	c, err := sbt.Dial(t, ts.URL+"?room=1", sbt.DialOptions{Header: h})
	if err != nil {
		t.Fatalf("signed upgrade: %v", err)
	}
	id := rec.last(t, "CONNECT")["identity"].(map[string]any)
	if id["accessKey"] != "AKIDCLIENT" || id["accountId"] != "123456789012" || id["userArn"] != "arn:aws:iam::123456789012:user/alice" ||
		id["user"] != "alice" || id["caller"] != "AIDAALICE" {
		t.Errorf("CONNECT identity %v", id)
	}
	c.SendText("hi")
	c.ExpectText("ok")

	// Presigned form: everything is in the query string.
	req, _ = http.NewRequest(http.MethodGet, httpURL, nil)
	signed, _, err := signer.PresignHTTP(context.Background(), creds, req, emptyHash, "execute-api", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sbt.Dial(t, "ws"+strings.TrimPrefix(signed, "http"), sbt.DialOptions{}); err != nil {
		t.Errorf("presigned upgrade: %v", err)
	}

	// Tampered, wrongly keyed and unsigned upgrades are refused with 403.
	refusedWith(t, ts.URL+"?room=2", sbt.DialOptions{Header: h}, http.StatusForbidden)
	bad, _ := http.NewRequest(http.MethodGet, httpURL, nil)
	// A fresh signer: the SDK's caches derived keys by access key id alone.
	v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDCLIENT", SecretAccessKey: "wrong"}, bad, emptyHash, "execute-api", "us-east-1", time.Now())
	refusedWith(t, ts.URL+"?room=1", sbt.DialOptions{Header: header("Authorization", bad.Header.Get("Authorization"), "X-Amz-Date", bad.Header.Get("X-Amz-Date"))}, http.StatusForbidden)
	refusedWith(t, ts.URL, sbt.DialOptions{}, http.StatusForbidden)
}

// authorizerFunc serves a URL REQUEST authorizer that decides with fn and
// counts its calls.
func authorizerFunc(t *testing.T, fn func(ev map[string]any) (int, string)) (*httptest.Server, *atomic.Int64) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var ev map[string]any
		json.NewDecoder(r.Body).Decode(&ev)
		status, body := fn(ev)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func policy(effect, resource string) string {
	return `{"principalId":"user-42","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"` +
		effect + `","Resource":"` + resource + `"}]},"context":{"tenant":"acme","admin":true,"level":3},"usageIdentifierKey":"usage-key-0123456789abcdef"}`
}

func TestRequestAuthorizer(t *testing.T) {
	rec := newRecorder(t)
	var methodArn atomic.Value
	auth, calls := authorizerFunc(t, func(ev map[string]any) (int, string) {
		methodArn.Store(ev["methodArn"])
		q, _ := ev["queryStringParameters"].(map[string]any)
		switch q["token"] {
		case "allow":
			return 200, policy("Allow", "arn:aws:execute-api:eu-west-1:123456789012:chatapi/*/*")
		case "rest-style":
			return 200, policy("Allow", "arn:aws:execute-api:eu-west-1:123456789012:chatapi/*/*/*")
		case "deny":
			return 200, policy("Deny", ev["methodArn"].(string))
		case "unauthorized":
			return 401, `{"message":"Unauthorized"}`
		}
		return 200, `{"not":"a policy"}`
	})
	ts := sbt.RunServer(t, recordedYAML(rec, `
api: {id: chatapi, region: eu-west-1, accountId: "123456789012"}
authorizers:
  tokens: {type: REQUEST, uri: "`+auth.URL+`", identitySource: "route.request.querystring.token"}
`, ", authorizationType: CUSTOM, authorizerId: tokens"))

	c, err := sbt.Dial(t, ts.URL+"?token=allow", sbt.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := methodArn.Load(); got != "arn:aws:execute-api:eu-west-1:123456789012:chatapi/dev/$connect" {
		t.Errorf("methodArn %v", got)
	}
	for _, eventType := range []string{"CONNECT", "MESSAGE"} {
		if eventType == "MESSAGE" {
			c.SendText("hi")
			c.ExpectText("ok")
		}
		a, _ := rec.last(t, eventType)["authorizer"].(map[string]any)
		if a["principalId"] != "user-42" || a["tenant"] != "acme" || a["admin"] != "true" || a["level"] != "3" {
			t.Errorf("%s requestContext.authorizer %v", eventType, a)
		}
	}

	before := calls.Load()
	refusedWith(t, ts.URL, sbt.DialOptions{}, http.StatusUnauthorized) // no identity source
	if calls.Load() != before {
		t.Error("the authorizer was called without its identity source")
	}
	refusedWith(t, ts.URL+"?token=deny", sbt.DialOptions{}, http.StatusForbidden)
	refusedWith(t, ts.URL+"?token=rest-style", sbt.DialOptions{}, http.StatusForbidden) // apiId/*/*/* does not match
	refusedWith(t, ts.URL+"?token=unauthorized", sbt.DialOptions{}, http.StatusUnauthorized)
	refusedWith(t, ts.URL+"?token=garbage", sbt.DialOptions{}, http.StatusInternalServerError)
}

func TestLambdaAuthorizerWithCacheAndAPIKey(t *testing.T) {
	rec := newRecorder(t)
	lambda := sbt.NewFakeLambda(t, func(inv sbt.Invocation) sbt.LambdaReply {
		var ev struct {
			MethodArn string            `json:"methodArn"`
			Headers   map[string]string `json:"headers"`
		}
		json.Unmarshal(inv.Payload, &ev)
		if ev.Headers["Auth"] == "bad" {
			return sbt.LambdaReply{FunctionError: "Unhandled", Payload: `{"errorMessage":"Unauthorized","errorType":"Error"}`}
		}
		return sbt.LambdaReply{Payload: policy("Allow", ev.MethodArn)}
	})
	ts := sbt.RunServer(t, recordedYAML(rec, `
api: {apiKeySelectionExpression: $context.authorizer.usageIdentifierKey}
apiKeys: [{id: usage, value: "usage-key-0123456789abcdef"}]
authorizers:
  fn: {type: REQUEST, uri: "arn:aws:lambda:us-east-1:000000000000:function:auth",
       identitySource: "route.request.header.Auth", authorizerResultTtlInSeconds: 300}
`, ", authorizationType: CUSTOM, authorizerId: fn, apiKeyRequired: true"))

	for range 3 {
		c, err := sbt.Dial(t, ts.URL, sbt.DialOptions{Header: header("Auth", "good")})
		if err != nil {
			t.Fatal(err)
		}
		c.Close(1000, "")
	}
	if n := len(lambda.Calls()); n != 1 {
		t.Errorf("the authorizer ran %d times for one identity within its TTL, want 1", n)
	}
	if id := rec.last(t, "CONNECT")["identity"].(map[string]any); id["apiKeyId"] != "usage" {
		t.Errorf("identity %v: want the key from usageIdentifierKey", id)
	}
	refusedWith(t, ts.URL, sbt.DialOptions{Header: header("Auth", "bad")}, http.StatusUnauthorized)
}

// jwks serves a JSON Web Key Set holding key as kid "k1".
func jwks(t *testing.T, key *rsa.PublicKey) *httptest.Server {
	b64 := base64.RawURLEncoding.EncodeToString
	body := `{"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":"` + b64(key.N.Bytes()) +
		`","e":"` + b64(big.NewInt(int64(key.E)).Bytes()) + `"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestJWTAuthorizer(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	keys := jwks(t, &key.PublicKey)
	rec := newRecorder(t)
	authorizers := `
authorizers:
  jwt:
    type: JWT
    identitySource: %s
    jwtConfiguration: {issuer: "https://issuer.example", audience: [chat], jwksUri: "` + keys.URL + `"}
`
	connect := ", authorizationType: JWT, authorizerId: jwt, authorizationScopes: [chat.write, chat.admin]"
	ts := sbt.RunServer(t, recordedYAML(rec, fmt.Sprintf(authorizers, "route.request.header.Authorization"), connect))
	tsQuery := sbt.RunServer(t, recordedYAML(rec, fmt.Sprintf(authorizers, "route.request.querystring.token"), connect))

	token := func(signer *rsa.PrivateKey, kid string, edit func(jwt.MapClaims)) string {
		c := jwt.MapClaims{"iss": "https://issuer.example", "aud": "chat", "sub": "alice",
			"exp": time.Now().Add(time.Hour).Unix(), "scope": "openid chat.write", "n": 7}
		if edit != nil {
			edit(c)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(signer)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	bearer := func(s string) sbt.DialOptions { return sbt.DialOptions{Header: header("Authorization", "Bearer "+s)} }

	c, err := sbt.Dial(t, ts.URL, bearer(token(key, "k1", nil)))
	if err != nil {
		t.Fatal(err)
	}
	c.SendText("hi")
	c.ExpectText("ok")
	for _, eventType := range []string{"CONNECT", "MESSAGE"} {
		a, _ := rec.last(t, eventType)["authorizer"].(map[string]any)
		j, _ := a["jwt"].(map[string]any)
		claims, _ := j["claims"].(map[string]any)
		if claims["sub"] != "alice" || claims["n"] != "7" || fmt.Sprint(j["scopes"]) != "[openid chat.write]" {
			t.Errorf("%s requestContext.authorizer %v", eventType, a)
		}
	}
	if _, err := sbt.Dial(t, tsQuery.URL+"?token="+token(key, "k1", nil), sbt.DialOptions{}); err != nil {
		t.Errorf("token in the query string: %v", err)
	}

	for name, tc := range map[string]struct {
		opts   sbt.DialOptions
		status int
	}{
		"no token":      {sbt.DialOptions{}, http.StatusUnauthorized},
		"expired":       {bearer(token(key, "k1", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), http.StatusUnauthorized},
		"wrong key":     {bearer(token(other, "k1", nil)), http.StatusUnauthorized},
		"unknown kid":   {bearer(token(key, "k9", nil)), http.StatusUnauthorized},
		"wrong issuer":  {bearer(token(key, "k1", func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), http.StatusUnauthorized},
		"wrong aud":     {bearer(token(key, "k1", func(c jwt.MapClaims) { c["aud"] = "other" })), http.StatusUnauthorized},
		"no scope":      {bearer(token(key, "k1", func(c jwt.MapClaims) { c["scope"] = "openid" })), http.StatusForbidden},
		"garbage token": {bearer("not.a.jwt"), http.StatusUnauthorized},
	} {
		t.Run(name, func(t *testing.T) { refusedWith(t, ts.URL, tc.opts, tc.status) })
	}
}
