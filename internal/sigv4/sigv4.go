// Package sigv4 verifies AWS Signature Version 4 signatures on incoming HTTP
// requests, in both the Authorization header form and the presigned query
// string form, using the canonicalization rules AWS applies to services other
// than S3 (the request path is URI-encoded a second time).
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Error codes carried by Error.Code. AWS reports the same conditions with
// these names plus an "Exception" suffix in the x-amzn-ErrorType header.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationToken"
	CodeIncompleteSignature        = "IncompleteSignature"
	CodeInvalidSignature           = "InvalidSignature"
	CodeSignatureExpired           = "SignatureExpired"
	CodeUnrecognizedClient         = "UnrecognizedClient"
	CodeInvalidToken               = "InvalidToken"
)

const (
	algorithm        = "AWS4-HMAC-SHA256"
	amzDateLayout    = "20060102T150405Z"
	scopeTerminator  = "aws4_request"
	unsignedPayload  = "UNSIGNED-PAYLOAD"
	defaultMaxSkew   = 5 * time.Minute
	maxPresignExpiry = 7 * 24 * 60 * 60 // seconds, as for AWS presigned URLs
	maxRegionLen     = 64
	keyCacheLimit    = 1024

	msgMissingToken  = "Missing Authentication Token"
	msgMismatch      = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgInvalidToken  = "The security token included in the request is invalid."
	msgPayloadHash   = "The provided 'x-amz-content-sha256' header does not match what was computed."
	msgNoHostHeader  = "'Host' must be a 'SignedHeader' in the AWS Authorization."
	msgSignedHeaders = "SignedHeaders must be lowercase header names, sorted and separated by ';'."
	msgPresignParams = "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the query-string parameters."
	msgTwoMechanisms = "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified."
)

// Credential is one access key the verifier accepts.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, must equal the request's
	// X-Amz-Security-Token. When empty, any token the request carries is
	// accepted: it only travels alongside the signature, and the
	// signature is still checked against SecretAccessKey.
	SessionToken string
}

// Error says why a request was refused. Message is safe to show to the
// client and mirrors AWS's wording; Reason is the detail for logs.
type Error struct {
	Code    string
	Message string
	Reason  string
}

// Error returns the code and the log detail.
func (e *Error) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = e.Message
	}
	return "sigv4: " + e.Code + ": " + reason
}

func newError(code, message, reason string) *Error {
	return &Error{Code: code, Message: message, Reason: reason}
}

// Verifier checks SigV4 signatures for one service against a fixed set of
// credentials. It is safe for concurrent use.
type Verifier struct {
	service string
	creds   map[string]Credential
	maxSkew time.Duration
	now     func() time.Time

	// keys caches derived signing keys. Entries are added only after a
	// signature made with them verified, so unauthenticated requests
	// cannot churn the cache; it is emptied when it reaches keyCacheLimit.
	mu   sync.RWMutex
	keys map[cacheKey]*signingKey
}

type cacheKey struct {
	accessKeyID, date, region string
}

// NewVerifier returns a verifier for service (e.g. "execute-api") accepting
// creds; any region is accepted. maxSkew bounds |now - X-Amz-Date| (use
// 5*time.Minute when 0); for a presigned request carrying X-Amz-Expires,
// the expiry replaces the lower bound. now may be nil (time.Now). When two
// credentials share an access key id, the first one wins.
func NewVerifier(service string, creds []Credential, maxSkew time.Duration, now func() time.Time) *Verifier {
	if maxSkew <= 0 {
		maxSkew = defaultMaxSkew
	}
	if now == nil {
		now = time.Now
	}
	byID := make(map[string]Credential, len(creds))
	for _, c := range creds {
		if _, dup := byID[c.AccessKeyID]; c.AccessKeyID != "" && !dup {
			byID[c.AccessKeyID] = c
		}
	}
	return &Verifier{
		service: service,
		creds:   byID,
		maxSkew: maxSkew,
		now:     now,
		keys:    make(map[cacheKey]*signingKey),
	}
}

// Verify checks the signature on r. body is the complete request body (the
// caller has read it already; r.Body must not be read). It returns nil or an
// *Error.
func (v *Verifier) Verify(r *http.Request, body []byte) error {
	_, err := v.VerifyIdentity(r, body)
	return err
}

// VerifyIdentity is Verify that also reports which access key id signed the
// request. On failure the error is an *Error and accessKeyID is empty.
func (v *Verifier) VerifyIdentity(r *http.Request, body []byte) (accessKeyID string, err error) {
	if r == nil {
		return "", newError(CodeMissingAuthenticationToken, msgMissingToken, "nil request")
	}
	s := scratchPool.Get().(*scratch)
	defer s.release()

	path, rawQuery := requestTarget(r)
	if e := s.parseQuery(rawQuery); e != nil {
		return "", e
	}
	var p params
	if e := p.parse(r, s); e != nil {
		return "", e
	}
	cred, e := v.checkParams(&p)
	if e != nil {
		return "", e
	}
	if e := v.checkSignature(r, body, s, &p, path, &cred); e != nil {
		return "", e
	}
	return cred.AccessKeyID, nil
}

// params are the signature inputs taken from the Authorization header or
// from the presigned query parameters.
type params struct {
	presigned     bool
	credential    string // full X-Amz-Credential / Credential= value
	accessKeyID   string
	scope         string // date/region/service/aws4_request
	scopeDate     string
	region        string
	service       string
	terminator    string
	signedHeaders string
	signature     string
	amzDate       string // ISO 8601 basic form used in the string to sign
	date          time.Time
	expires       int  // presigned only
	hasExpires    bool // presigned only
	token         string
	hasToken      bool
	contentSHA    string // X-Amz-Content-Sha256, "" when absent
}

// parse fills p from whichever signature form r carries; s holds the
// parsed query.
func (p *params) parse(r *http.Request, s *scratch) *Error {
	authz, hasAuthz := r.Header["Authorization"]
	presigned := s.has("X-Amz-Algorithm") || s.has("X-Amz-Credential") || s.has("X-Amz-Signature")
	switch {
	case hasAuthz && presigned:
		return newError(CodeIncompleteSignature, msgTwoMechanisms, "both Authorization header and presigned query parameters")
	case presigned:
		return p.parseQuery(r, s)
	case !hasAuthz:
		return newError(CodeMissingAuthenticationToken, msgMissingToken, "no Authorization header or presigned query parameters")
	case len(authz) != 1:
		return newError(CodeIncompleteSignature, "Authorization header must be sent exactly once.", "multiple Authorization headers")
	}
	return p.parseHeader(r, authz[0])
}

// parseHeader reads the Authorization header form.
func (p *params) parseHeader(r *http.Request, authz string) *Error {
	alg, rest, _ := strings.Cut(strings.TrimSpace(authz), " ")
	if alg == algorithm {
		for rest != "" {
			var part string
			part, rest, _ = strings.Cut(rest, ",")
			switch name, value, _ := strings.Cut(strings.TrimSpace(part), "="); name {
			case "Credential":
				p.credential = value
			case "SignedHeaders":
				p.signedHeaders = value
			case "Signature":
				p.signature = value
			}
		}
	}

	rawDate, dateHeader := r.Header.Get("X-Amz-Date"), false
	if rawDate == "" {
		rawDate, dateHeader = r.Header.Get("Date"), true
	}
	if p.credential == "" || p.signedHeaders == "" || p.signature == "" || rawDate == "" {
		var msg strings.Builder
		for _, m := range [...]struct {
			missing bool
			text    string
		}{
			{p.credential == "", "Authorization header requires 'Credential' parameter. "},
			{p.signature == "", "Authorization header requires 'Signature' parameter. "},
			{p.signedHeaders == "", "Authorization header requires 'SignedHeaders' parameter. "},
			{rawDate == "", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "},
		} {
			if m.missing {
				msg.WriteString(m.text)
			}
		}
		msg.WriteString("Authorization=")
		msg.WriteString(clip(authz))
		reason := "malformed Authorization header"
		if alg != algorithm {
			reason = fmt.Sprintf("unsupported authorization type %q", clip(alg))
		}
		return newError(CodeIncompleteSignature, msg.String(), reason)
	}

	if dateHeader {
		t, err := http.ParseTime(rawDate)
		if err != nil {
			return newError(CodeIncompleteSignature, "Date must be an HTTP date (RFC 1123). Got '"+clip(rawDate)+"'.", "bad Date header")
		}
		p.date = t.UTC()
		p.amzDate = p.date.Format(amzDateLayout)
	} else if e := p.setAmzDate(rawDate); e != nil {
		return e
	}

	if tokens := r.Header["X-Amz-Security-Token"]; len(tokens) > 0 {
		p.token, p.hasToken = tokens[0], true
	}
	p.contentSHA = r.Header.Get("X-Amz-Content-Sha256")
	return p.splitCredential()
}

// parseQuery reads the presigned query string form.
func (p *params) parseQuery(r *http.Request, s *scratch) *Error {
	p.presigned = true
	var alg, rawDate string
	for _, f := range [...]struct {
		name string
		dst  *string
	}{
		{"X-Amz-Algorithm", &alg},
		{"X-Amz-Credential", &p.credential},
		{"X-Amz-Signature", &p.signature},
		{"X-Amz-Date", &rawDate},
		{"X-Amz-SignedHeaders", &p.signedHeaders},
	} {
		value, n := s.get(f.name)
		if n > 1 {
			return newError(CodeIncompleteSignature, msgPresignParams, f.name+" given more than once")
		}
		*f.dst = value
	}
	if alg == "" || p.credential == "" || p.signature == "" || rawDate == "" || p.signedHeaders == "" {
		return newError(CodeIncompleteSignature, msgPresignParams, "missing presigned query parameters")
	}
	if alg != algorithm {
		return newError(CodeIncompleteSignature, "X-Amz-Algorithm only supports \""+algorithm+"\"", fmt.Sprintf("unsupported algorithm %q", clip(alg)))
	}
	if e := p.setAmzDate(rawDate); e != nil {
		return e
	}

	if raw, n := s.get("X-Amz-Expires"); n > 1 {
		return newError(CodeIncompleteSignature, msgPresignParams, "X-Amz-Expires given more than once")
	} else if n == 1 {
		secs, err := strconv.Atoi(raw)
		switch {
		case err != nil || secs <= 0:
			return newError(CodeIncompleteSignature, "X-Amz-Expires must be a positive number of seconds.", fmt.Sprintf("bad X-Amz-Expires %q", clip(raw)))
		case secs > maxPresignExpiry:
			return newError(CodeIncompleteSignature, "X-Amz-Expires must be less than a week (in seconds) that is 604800", fmt.Sprintf("X-Amz-Expires %d too large", secs))
		}
		p.expires, p.hasExpires = secs, true
	}

	if token, n := s.get("X-Amz-Security-Token"); n > 0 {
		p.token, p.hasToken = token, true
	} else if tokens := r.Header["X-Amz-Security-Token"]; len(tokens) > 0 {
		p.token, p.hasToken = tokens[0], true
	}
	p.contentSHA = r.Header.Get("X-Amz-Content-Sha256")
	if p.contentSHA == "" {
		p.contentSHA, _ = s.get("X-Amz-Content-Sha256")
	}
	return p.splitCredential()
}

// setAmzDate parses an X-Amz-Date value, which must be exactly
// yyyymmddThhmmssZ.
func (p *params) setAmzDate(raw string) *Error {
	ok := len(raw) == len(amzDateLayout)
	for i := 0; ok && i < len(raw); i++ {
		switch i {
		case 8:
			ok = raw[i] == 'T'
		case 15:
			ok = raw[i] == 'Z'
		default:
			ok = '0' <= raw[i] && raw[i] <= '9'
		}
	}
	var t time.Time
	if ok {
		var err error
		t, err = time.Parse(amzDateLayout, raw)
		ok = err == nil
	}
	if !ok {
		return newError(CodeIncompleteSignature,
			"Date must be in ISO-8601 'basic format'. Got '"+clip(raw)+"'. See http://en.wikipedia.org/wiki/ISO_8601",
			"bad X-Amz-Date")
	}
	p.amzDate, p.date = raw, t
	return nil
}

// splitCredential splits AKID/date/region/service/aws4_request.
func (p *params) splitCredential() *Error {
	rest, ok := p.credential, true
	for _, field := range [...]*string{&p.accessKeyID, &p.scopeDate, &p.region, &p.service} {
		if *field, rest, ok = strings.Cut(rest, "/"); !ok {
			break
		}
	}
	if !ok || strings.Contains(rest, "/") {
		return newError(CodeIncompleteSignature,
			"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '"+clip(p.credential)+"'",
			"malformed credential")
	}
	p.terminator = rest
	p.scope = p.credential[len(p.accessKeyID)+1:]
	return nil
}

// checkParams validates the scope, the clock and the identity, and returns
// the credential that must have signed the request.
func (v *Verifier) checkParams(p *params) (Credential, *Error) {
	switch {
	case p.terminator != scopeTerminator:
		return Credential{}, newError(CodeInvalidSignature,
			"Credential should be scoped with a valid terminator: 'aws4_request', not '"+clip(p.terminator)+"'.",
			"bad scope terminator")
	case p.service != v.service:
		return Credential{}, newError(CodeInvalidSignature,
			"Credential should be scoped to correct service: '"+v.service+"'.",
			fmt.Sprintf("scope service %q", clip(p.service)))
	case p.region == "" || len(p.region) > maxRegionLen:
		return Credential{}, newError(CodeInvalidSignature, "Credential should be scoped to a valid region.",
			fmt.Sprintf("scope region %q", clip(p.region)))
	case p.scopeDate != p.amzDate[:8]:
		return Credential{}, newError(CodeInvalidSignature,
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '"+
				clip(p.scopeDate)+"' != '"+p.amzDate[:8]+"', from '"+p.amzDate+"'.",
			"scope date differs from request date")
	}

	if e := v.checkTime(p); e != nil {
		return Credential{}, e
	}

	cred, ok := v.creds[p.accessKeyID]
	if !ok {
		return Credential{}, newError(CodeUnrecognizedClient, msgInvalidToken, fmt.Sprintf("unknown access key id %q", clip(p.accessKeyID)))
	}
	if cred.SessionToken != "" {
		switch {
		case !p.hasToken:
			return Credential{}, newError(CodeInvalidToken, msgInvalidToken, "session token required but not sent")
		case subtle.ConstantTimeCompare([]byte(p.token), []byte(cred.SessionToken)) != 1:
			return Credential{}, newError(CodeInvalidToken, msgInvalidToken, "session token mismatch")
		}
	}
	return cred, nil
}

// checkTime applies the clock skew bound, and for presigned requests the
// X-Amz-Expires window instead of the lower bound.
func (v *Verifier) checkTime(p *params) *Error {
	now := v.now().UTC()
	if p.date.Sub(now) > v.maxSkew {
		return newError(CodeSignatureExpired,
			"Signature not yet current: "+p.amzDate+" is still later than "+
				now.Add(v.maxSkew).Format(amzDateLayout)+" ("+now.Format(amzDateLayout)+" + "+skewText(v.maxSkew)+")",
			"request date in the future")
	}
	if p.hasExpires {
		if deadline := p.date.Add(time.Duration(p.expires) * time.Second); now.After(deadline) {
			return newError(CodeSignatureExpired, "Request has expired",
				"presigned request expired at "+deadline.Format(amzDateLayout)+", now "+now.Format(amzDateLayout))
		}
		return nil
	}
	if now.Sub(p.date) > v.maxSkew {
		return newError(CodeSignatureExpired,
			"Signature expired: "+p.amzDate+" is now earlier than "+
				now.Add(-v.maxSkew).Format(amzDateLayout)+" ("+now.Format(amzDateLayout)+" - "+skewText(v.maxSkew)+")",
			"request date too old")
	}
	return nil
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min."
	}
	return d.String()
}

// checkSignature builds the canonical request and compares signatures.
func (v *Verifier) checkSignature(r *http.Request, body []byte, s *scratch, p *params, path string, cred *Credential) *Error {
	if len(p.signature) != 2*sha256.Size {
		return newError(CodeInvalidSignature, msgMismatch, "signature is not 64 hex digits")
	}

	// Payload hash candidates. Presigners differ: S3-style ones sign
	// UNSIGNED-PAYLOAD, others (the JavaScript SDK's, for one) the body's
	// hash, so without an explicit X-Amz-Content-Sha256 a presigned request
	// may use either.
	var bodyHash [2 * sha256.Size]byte
	var payloadHash, altHash []byte
	switch {
	case p.contentSHA == unsignedPayload:
		payloadHash = []byte(unsignedPayload)
	case p.contentSHA != "":
		payloadHash = hashBody(&bodyHash, body)
		if p.contentSHA != string(payloadHash) {
			return newError(CodeInvalidSignature, msgPayloadHash, "x-amz-content-sha256 does not match the body")
		}
	case p.presigned:
		payloadHash = []byte(unsignedPayload)
		altHash = hashBody(&bodyHash, body)
	default:
		payloadHash = hashBody(&bodyHash, body)
	}

	// Canonical request up to, and without, the payload hash.
	b := append(s.buf[:0], r.Method...)
	b = append(b, '\n')
	b = appendCanonicalURI(b, path)
	b = append(b, '\n')
	b = s.appendCanonicalQuery(b, p.presigned)
	b = append(b, '\n')
	b, e := s.appendCanonicalHeaders(b, r, p.signedHeaders)
	if e != nil {
		s.buf = b
		return e
	}
	b = append(b, '\n')
	b = append(b, p.signedHeaders...)
	b = append(b, '\n')
	prefix := len(b)
	s.buf = b

	key := cacheKey{p.accessKeyID, p.scopeDate, p.region}
	v.mu.RLock()
	sk := v.keys[key]
	v.mu.RUnlock()
	cached := sk != nil
	if !cached {
		sk = newSigningKey(cred.SecretAccessKey, p.scopeDate, p.region, v.service)
	}

	ok := s.signatureMatches(sk, p, payloadHash)
	if !ok && altHash != nil {
		s.buf = s.buf[:prefix]
		ok = s.signatureMatches(sk, p, altHash)
	}
	if !ok {
		return newError(CodeInvalidSignature, msgMismatch, fmt.Sprintf("signature mismatch; string to sign %q", s.sts))
	}
	if !cached {
		v.storeKey(key, sk)
	}
	return nil
}

// hashBody writes the hex SHA-256 of body to dst and returns it as a slice.
func hashBody(dst *[2 * sha256.Size]byte, body []byte) []byte {
	sum := sha256.Sum256(body)
	hex.Encode(dst[:], sum[:])
	return dst[:]
}

// signatureMatches completes the canonical request in s.buf with
// payloadHash, signs it with sk and compares with the request's signature.
func (s *scratch) signatureMatches(sk *signingKey, p *params, payloadHash []byte) bool {
	s.buf = append(s.buf, payloadHash...)
	crHash := sha256.Sum256(s.buf)

	sts := append(s.sts[:0], algorithm+"\n"...)
	sts = append(sts, p.amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, p.scope...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, crHash[:])
	s.sts = sts

	var mac [sha256.Size]byte
	sig := sk.sign(s.sig[:0], sts)
	copy(mac[:], sig)
	sig = hex.AppendEncode(sig[:0], mac[:])
	sig = append(sig, p.signature...)
	s.sig = sig
	n := 2 * sha256.Size
	return subtle.ConstantTimeCompare(sig[:n], sig[n:]) == 1
}

func (v *Verifier) storeKey(key cacheKey, sk *signingKey) {
	key = cacheKey{strings.Clone(key.accessKeyID), strings.Clone(key.date), strings.Clone(key.region)}
	v.mu.Lock()
	if len(v.keys) >= keyCacheLimit {
		clear(v.keys)
	}
	v.keys[key] = sk
	v.mu.Unlock()
}

// signingKey is a derived SigV4 signing key, with HMAC states keyed by it
// kept for reuse so the hot path does not rebuild them.
type signingKey struct {
	macs sync.Pool
}

func newSigningKey(secret, date, region, service string) *signingKey {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, scopeTerminator)
	sk := &signingKey{}
	sk.macs.New = func() any { return hmac.New(sha256.New, k) }
	return sk
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// sign appends HMAC-SHA256(key, msg) to dst.
func (k *signingKey) sign(dst, msg []byte) []byte {
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(msg)
	dst = m.Sum(dst)
	k.macs.Put(m)
	return dst
}

// requestTarget returns the path and query exactly as they were sent: from
// RequestURI when the server recorded it, else from r.URL.
func requestTarget(r *http.Request) (path, rawQuery string) {
	if t := r.RequestURI; t != "" && t[0] == '/' {
		path, rawQuery, _ = strings.Cut(t, "?")
		return path, rawQuery
	}
	if r.URL == nil {
		return "/", ""
	}
	return r.URL.EscapedPath(), r.URL.RawQuery
}

const upperHex = "0123456789ABCDEF"

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

func appendEscaped(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; unreserved(c) || keepSlash && c == '/' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// appendCanonicalURI encodes the already escaped request path once more,
// leaving '/' alone, as the SDKs do for every service but S3. Dot segments
// are not resolved, matching the SDKs.
func appendCanonicalURI(dst []byte, escapedPath string) []byte {
	if escapedPath == "" {
		return append(dst, '/')
	}
	return appendEscaped(dst, escapedPath, true)
}

// appendHeaderValue appends v without leading or trailing whitespace and
// with runs of spaces collapsed to one.
func appendHeaderValue(dst []byte, v string) []byte {
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		dst = append(dst, v[i])
	}
	return dst
}

// clip shortens client-supplied text echoed in messages and log reasons.
func clip(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// scratch holds per-call buffers; it is pooled so the success path does
// not allocate.
type scratch struct {
	buf   []byte // canonical request
	sts   []byte // string to sign
	sig   []byte // computed then provided signature, hex
	key   []byte // canonical MIME header key
	query []queryParam
}

type queryParam struct {
	name, value       string // decoded
	encName, encValue string // canonical encoding
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{buf: make([]byte, 0, 1024), sts: make([]byte, 0, 256), sig: make([]byte, 0, 128)}
}}

func (s *scratch) release() {
	const maxKeep = 64 << 10
	if cap(s.buf) > maxKeep || cap(s.query) > 256 {
		return
	}
	clear(s.query) // drop references to request strings
	s.query = s.query[:0]
	scratchPool.Put(s)
}

// parseQuery decodes the raw query into s.query, sorted by canonical
// encoding. Like url.ParseQuery it skips empty pairs and reads '+' as a
// space, but it keeps pairs containing ';'.
func (s *scratch) parseQuery(raw string) *Error {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err1 := url.QueryUnescape(rawName)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return newError(CodeIncompleteSignature, "The query string is not validly percent-encoded.", fmt.Sprintf("bad query pair %q", clip(pair)))
		}
		s.query = append(s.query, queryParam{
			name: name, value: value,
			encName: encodeQueryComponent(name), encValue: encodeQueryComponent(value),
		})
	}
	slices.SortFunc(s.query, func(a, b queryParam) int {
		if c := strings.Compare(a.encName, b.encName); c != 0 {
			return c
		}
		return strings.Compare(a.encValue, b.encValue)
	})
	return nil
}

func encodeQueryComponent(s string) string {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			return string(appendEscaped(make([]byte, 0, len(s)+16), s, false))
		}
	}
	return s
}

// get returns the first value of the named query parameter and how many
// times it occurs.
func (s *scratch) get(name string) (value string, n int) {
	for _, q := range s.query {
		if q.name == name {
			if n == 0 {
				value = q.value
			}
			n++
		}
	}
	return value, n
}

func (s *scratch) has(name string) bool {
	_, n := s.get(name)
	return n > 0
}

// appendCanonicalQuery appends the sorted, re-encoded query, leaving out
// X-Amz-Signature for presigned requests.
func (s *scratch) appendCanonicalQuery(dst []byte, presigned bool) []byte {
	first := true
	for _, q := range s.query {
		if presigned && q.name == "X-Amz-Signature" {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		dst = append(dst, q.encName...)
		dst = append(dst, '=')
		dst = append(dst, q.encValue...)
	}
	return dst
}

// appendCanonicalHeaders appends "name:value\n" for each signed header
// after checking that the list is lowercase, sorted, without duplicates and
// includes host.
func (s *scratch) appendCanonicalHeaders(dst []byte, r *http.Request, signedHeaders string) ([]byte, *Error) {
	prev, sawHost := "", false
	for rest := signedHeaders; ; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		if !validHeaderName(name) || name <= prev {
			return dst, newError(CodeIncompleteSignature, msgSignedHeaders, fmt.Sprintf("bad SignedHeaders %q", clip(signedHeaders)))
		}
		prev = name
		dst = append(dst, name...)
		dst = append(dst, ':')
		var e *Error
		if dst, e = s.appendHeader(dst, r, name); e != nil {
			return dst, e
		}
		dst = append(dst, '\n')
		sawHost = sawHost || name == "host"
		if rest == "" {
			break
		}
	}
	if !sawHost {
		return dst, newError(CodeIncompleteSignature, msgNoHostHeader, "host is not a signed header")
	}
	return dst, nil
}

// appendHeader appends the canonical value of the signed header name.
func (s *scratch) appendHeader(dst []byte, r *http.Request, name string) ([]byte, *Error) {
	if name == "host" {
		host := r.Host
		if host == "" && r.URL != nil {
			host = r.URL.Host
		}
		return appendHeaderValue(dst, host), nil
	}
	values := s.headerValues(r.Header, name)
	if len(values) == 0 {
		// net/http moves these out of the header map.
		switch {
		case name == "content-length" && r.ContentLength >= 0:
			return strconv.AppendInt(dst, r.ContentLength, 10), nil
		case name == "transfer-encoding" && len(r.TransferEncoding) > 0:
			values = r.TransferEncoding
		default:
			return dst, newError(CodeInvalidSignature, msgMismatch, fmt.Sprintf("signed header %q is missing", name))
		}
	}
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendHeaderValue(dst, v)
	}
	return dst, nil
}

// headerValues looks up a lowercase header name in h without allocating:
// the canonical MIME key is built in a scratch buffer, with a
// case-insensitive scan as the fallback for keys net/http left as sent.
func (s *scratch) headerValues(h http.Header, name string) []string {
	k := s.key[:0]
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		k = append(k, c)
		upper = c == '-'
	}
	s.key = k
	if values, ok := h[string(k)]; ok {
		return values
	}
	for key, values := range h {
		if strings.EqualFold(key, name) {
			return values
		}
	}
	return nil
}

// validHeaderName reports whether name is a non-empty lowercase HTTP token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
