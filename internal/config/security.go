package config

import (
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/authorizer"
	"github.com/switchboardgw/switchboard/internal/awsapi"
)

// TLS makes the listener serve wss:// and https://.
type TLS struct {
	// CertFile and KeyFile are PEM files (the certificate file may hold the
	// chain). Both are read again on SIGHUP. Required.
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// MinVersion is "1.2" or "1.3". Default "1.2".
	MinVersion string `yaml:"minVersion"`
}

// Origins is the allow-list for the Origin header of upgrade requests.
type Origins struct {
	// Allow lists origins as scheme://host[:port]: exact ("https://app.example.com")
	// or a wildcard for subdomains at any depth ("https://*.example.com",
	// which does not match https://example.com itself). An upgrade whose
	// Origin is not listed is refused with 403. Empty: any origin.
	Allow []string `yaml:"allow"`
	// RequireOrigin refuses upgrades without an Origin header (403) when
	// Allow is set. Browsers always send one; other clients usually do not.
	// Default false.
	RequireOrigin bool `yaml:"requireOrigin"`
}

// IAM configures authorizationType AWS_IAM on $connect: the upgrade request
// must be signed with AWS Signature Version 4 (service execute-api), in the
// Authorization header or presigned in the query string.
type IAM struct {
	// Credentials are the access keys accepted.
	Credentials []IAMCredential `yaml:"credentials"`
	// MaxClockSkew bounds the difference between a signature's time and the
	// gateway's clock. Default 5m.
	MaxClockSkew Duration `yaml:"maxClockSkew"`
}

// IAMCredential is one access key accepted on $connect, with the identity
// that events report for connections signed with it.
type IAMCredential struct {
	AccessKeyID     string `yaml:"accessKeyId"`
	SecretAccessKey string `yaml:"secretAccessKey"`
	// SessionToken, when set, must match the request's X-Amz-Security-Token.
	SessionToken string `yaml:"sessionToken"`
	// AccountID, Caller, User and UserArn fill requestContext.identity's
	// fields of the same names. Optional.
	AccountID string `yaml:"accountId"`
	Caller    string `yaml:"caller"`
	User      string `yaml:"user"`
	UserArn   string `yaml:"userArn"`
}

// APIKey is one key accepted on routes with apiKeyRequired.
type APIKey struct {
	// ID is the key's id, reported as requestContext.identity.apiKeyId. Required.
	ID string `yaml:"id"`
	// Value is the key itself; or give SHA256, the hex SHA-256 of the key,
	// so the file holds no secret. Exactly one of the two.
	Value  string `yaml:"value"`
	SHA256 string `yaml:"sha256"`
}

// Authorizer types.
const (
	AuthorizerRequest = "REQUEST"
	AuthorizerJWT     = "JWT"
)

// Authorizer is a named authorizer that $connect can use.
type Authorizer struct {
	// Type is REQUEST (a Lambda function, or an http(s) URL taking the same
	// event: API Gateway's Lambda REQUEST authorizer) or JWT (tokens
	// verified against a JWKS, as API Gateway's HTTP APIs do). Required.
	Type string `yaml:"type"`
	// URI is the REQUEST authorizer's Lambda ARN or http(s) URL.
	URI string `yaml:"uri"`
	// IdentitySource lists, comma-separated, where the caller's identity
	// is: route.request.header.NAME, route.request.querystring.NAME,
	// stageVariables.NAME, context.NAME. If any is missing or empty the
	// upgrade is refused with 401 before the authorizer runs. REQUEST:
	// optional (required for caching); JWT: one source, the token.
	// Default for JWT: route.request.header.Authorization.
	IdentitySource string `yaml:"identitySource"`
	// TimeoutInMillis bounds one REQUEST authorizer call (on expiry the
	// upgrade gets 500). 50 to 29000. Default 10000.
	TimeoutInMillis int `yaml:"timeoutInMillis"`
	// AuthorizerResultTTLInSeconds caches a REQUEST authorizer's Allow or
	// Deny per identity-source values for this long (Switchboard's
	// extension; API Gateway does not cache for WebSocket APIs). 0 to 3600.
	// Default 0: no cache.
	AuthorizerResultTTLInSeconds int `yaml:"authorizerResultTtlInSeconds"`
	// CacheMaxEntries bounds the cache. Default 10000.
	CacheMaxEntries int `yaml:"cacheMaxEntries"`
	// JWTConfiguration configures a JWT authorizer.
	JWTConfiguration *JWTConfiguration `yaml:"jwtConfiguration"`
}

// JWTConfiguration is a JWT authorizer's token checks.
type JWTConfiguration struct {
	// Issuer must equal the token's iss. Required.
	Issuer string `yaml:"issuer"`
	// Audience lists accepted audiences: the token's aud (or, when it has
	// no aud, its client_id) must hold one. Required.
	Audience []string `yaml:"audience"`
	// JWKSURI is the issuer's JSON Web Key Set. Required.
	JWKSURI string `yaml:"jwksUri"`
	// Algorithms lists the accepted signing algorithms. Default [RS256].
	Algorithms []string `yaml:"algorithms"`
	// Leeway tolerates clock skew on exp, nbf and iat. Default 0.
	Leeway Duration `yaml:"leeway"`
	// RefreshInterval is how often the key set is fetched again. Default 1h.
	RefreshInterval Duration `yaml:"refreshInterval"`
	// UnknownKIDRefreshInterval bounds how often a token with an unknown
	// key id makes the key set be fetched at once. Default 5m.
	UnknownKIDRefreshInterval Duration `yaml:"unknownKidRefreshInterval"`
}

// Route authorization types.
const (
	AuthorizationNone   = "NONE"
	AuthorizationCustom = "CUSTOM"
	AuthorizationJWT    = "JWT"
	AuthorizationIAM    = "AWS_IAM"
)

// API key selection expressions (the only two API Gateway allows).
const (
	APIKeyFromHeader     = "$request.header.x-api-key"
	APIKeyFromAuthorizer = "$context.authorizer.usageIdentifierKey"
)

// Defaults of the security settings.
const (
	DefaultAuthorizerTimeoutInMillis = 10000
	DefaultAuthorizerCacheMaxEntries = 10000
	DefaultJWTRefreshInterval        = time.Hour
	DefaultJWTUnknownKIDRefresh      = 5 * time.Minute
	DefaultJWTIdentitySource         = "route.request.header.Authorization"
	maxAuthorizerTimeoutInMillis     = 29000
	maxAuthorizerResultTTL           = 3600
)

func (c *Config) applySecurityDefaults() {
	if c.TLS != nil {
		setDefault(&c.TLS.MinVersion, "1.2")
	}
	setDefault(&c.IAM.MaxClockSkew, Duration(DefaultMaxClockSkew))
	setDefault(&c.API.APIKeySelectionExpression, APIKeyFromHeader)
	setDefault(&c.API.Region, "us-east-1")
	setDefault(&c.API.AccountID, "000000000000")
	for _, a := range c.Authorizers {
		if a == nil {
			continue
		}
		setDefault(&a.TimeoutInMillis, DefaultAuthorizerTimeoutInMillis)
		setDefault(&a.CacheMaxEntries, DefaultAuthorizerCacheMaxEntries)
		if a.Type == AuthorizerJWT {
			setDefault(&a.IdentitySource, DefaultJWTIdentitySource)
			if j := a.JWTConfiguration; j != nil {
				if len(j.Algorithms) == 0 {
					j.Algorithms = []string{"RS256"}
				}
				setDefault(&j.RefreshInterval, Duration(DefaultJWTRefreshInterval))
				setDefault(&j.UnknownKIDRefreshInterval, Duration(DefaultJWTUnknownKIDRefresh))
			}
		}
	}
	for _, r := range c.Routes {
		if r != nil {
			setDefault(&r.AuthorizationType, AuthorizationNone)
		}
	}
}

// TLSVersion is the crypto/tls constant for MinVersion.
func (t *TLS) TLSVersion() uint16 {
	if t.MinVersion == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

func (c *Config) validateSecurity(add func(string, string, ...any)) {
	if t := c.TLS; t != nil {
		if t.CertFile == "" {
			add("tls.certFile", "required")
		}
		if t.KeyFile == "" {
			add("tls.keyFile", "required")
		}
		if t.CertFile != "" && t.KeyFile != "" {
			if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
				add("tls", "cannot load the certificate and key: %v", err)
			}
		}
		if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
			add("tls.minVersion", "%q: want \"1.2\" or \"1.3\"", t.MinVersion)
		}
	}
	for i, p := range c.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			add(fmt.Sprintf("trustedProxies[%d]", i), "%v", err)
		}
	}
	for i, o := range c.Origins.Allow {
		if err := checkOrigin(o); err != nil {
			add(fmt.Sprintf("origins.allow[%d]", i), "%v", err)
		}
	}
	if c.Origins.RequireOrigin && len(c.Origins.Allow) == 0 {
		add("origins.requireOrigin", "needs origins.allow")
	}

	seen := map[string]bool{}
	for i, cr := range c.IAM.Credentials {
		checkKeyPair(fmt.Sprintf("iam.credentials[%d]", i), cr.AccessKeyID, cr.SecretAccessKey, seen, add)
	}

	if !regionRE.MatchString(c.API.Region) {
		add("api.region", "%q: want a region name such as us-east-1", c.API.Region)
	}
	if !accountRE.MatchString(c.API.AccountID) {
		add("api.accountId", "%q: want 12 digits", c.API.AccountID)
	}
	switch c.API.APIKeySelectionExpression {
	case APIKeyFromHeader, APIKeyFromAuthorizer:
	default:
		add("api.apiKeySelectionExpression", "%q: want %s or %s", c.API.APIKeySelectionExpression, APIKeyFromHeader, APIKeyFromAuthorizer)
	}
	ids := map[string]bool{}
	for i, k := range c.APIKeys {
		path := fmt.Sprintf("apiKeys[%d]", i)
		if k.ID == "" {
			add(path+".id", "required")
		} else if ids[k.ID] {
			add(path+".id", "%q is listed twice", k.ID)
		}
		ids[k.ID] = true
		switch {
		case (k.Value == "") == (k.SHA256 == ""):
			add(path, "give exactly one of value and sha256")
		case k.SHA256 != "":
			if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
				add(path+".sha256", "want 64 hex digits")
			}
		case len(k.Value) < 20:
			add(path+".value", "%d characters; API Gateway keys have at least 20", len(k.Value))
		}
	}

	for _, name := range sortedKeys(c.Authorizers) {
		c.validateAuthorizer("authorizers."+name, c.Authorizers[name], add)
	}
	for _, key := range sortedKeys(c.Routes) {
		if r := c.Routes[key]; r != nil {
			c.validateRouteAuth("routes."+key, key, r, add)
		}
	}
}

func (c *Config) validateAuthorizer(path string, a *Authorizer, add func(string, string, ...any)) {
	if a == nil {
		add(path, "empty authorizer: want {type: REQUEST, uri: ...} or {type: JWT, jwtConfiguration: ...}")
		return
	}
	if a.AuthorizerResultTTLInSeconds < 0 || a.AuthorizerResultTTLInSeconds > maxAuthorizerResultTTL {
		add(path+".authorizerResultTtlInSeconds", "%d: want 0 to %d", a.AuthorizerResultTTLInSeconds, maxAuthorizerResultTTL)
	}
	if a.CacheMaxEntries < 0 {
		add(path+".cacheMaxEntries", "must not be negative")
	}
	if a.TimeoutInMillis < 50 || a.TimeoutInMillis > maxAuthorizerTimeoutInMillis {
		add(path+".timeoutInMillis", "%d: want 50 to %d", a.TimeoutInMillis, maxAuthorizerTimeoutInMillis)
	}
	switch a.Type {
	case AuthorizerRequest:
		uri, missing := c.SubstituteStageVariables(a.URI)
		for _, v := range missing {
			add(path+".uri", "stage variable %q is not defined in stage.variables", v)
		}
		if awsapi.IsLambdaURI(uri) {
			if _, err := awsapi.ParseLambdaURI(uri); err != nil {
				add(path+".uri", "%v", err)
			}
		} else {
			validateURL(path+".uri", uri, add)
		}
		if a.JWTConfiguration != nil {
			add(path+".jwtConfiguration", "only for type JWT")
		}
		if _, err := authorizer.ParseIdentitySource(a.IdentitySource); err != nil && a.IdentitySource != "" {
			add(path+".identitySource", "%v", err)
		}
		if a.AuthorizerResultTTLInSeconds > 0 && strings.TrimSpace(a.IdentitySource) == "" {
			add(path+".authorizerResultTtlInSeconds", "caching needs an identitySource to key the cache")
		}
	case AuthorizerJWT:
		if a.URI != "" {
			add(path+".uri", "only for type REQUEST")
		}
		if a.AuthorizerResultTTLInSeconds != 0 {
			add(path+".authorizerResultTtlInSeconds", "only for type REQUEST (a JWT is checked locally)")
		}
		if sources, err := authorizer.ParseIdentitySource(a.IdentitySource); err != nil {
			add(path+".identitySource", "%v", err)
		} else if len(sources) != 1 {
			add(path+".identitySource", "a JWT authorizer takes one source, the token")
		} else if k := sources[0].Kind; k != authorizer.SourceHeader && k != authorizer.SourceQueryString {
			// As on AWS: the client's token, never a value of the
			// gateway's own, which every client would share.
			add(path+".identitySource", "%q: a JWT authorizer reads the token from route.request.header.NAME or route.request.querystring.NAME", a.IdentitySource)
		}
		j := a.JWTConfiguration
		if j == nil {
			add(path+".jwtConfiguration", "required for type JWT: {issuer, audience, jwksUri}")
			return
		}
		jp := path + ".jwtConfiguration"
		if j.Issuer == "" {
			add(jp+".issuer", "required")
		}
		if len(j.Audience) == 0 {
			add(jp+".audience", "required: at least one")
		}
		if u, err := url.Parse(j.JWKSURI); j.JWKSURI == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(jp+".jwksUri", "%q: want an http(s) URL", j.JWKSURI)
		}
		for i, alg := range j.Algorithms {
			if !jwtAlgorithms[alg] {
				add(fmt.Sprintf("%s.algorithms[%d]", jp, i), "%q: want one of RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA", alg)
			}
		}
		if j.Leeway < 0 || j.Leeway.D() > time.Hour {
			add(jp+".leeway", "%v: want 0 to 1h", j.Leeway.D())
		}
		if j.RefreshInterval.D() < time.Second {
			add(jp+".refreshInterval", "%v: want at least 1s", j.RefreshInterval.D())
		}
		if j.UnknownKIDRefreshInterval.D() < time.Second {
			add(jp+".unknownKidRefreshInterval", "%v: want at least 1s", j.UnknownKIDRefreshInterval.D())
		}
	default:
		add(path+".type", "%q: want REQUEST or JWT", a.Type)
	}
}

var (
	regionRE  = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
)

var jwtAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true,
}

// validateRouteAuth checks a route's authorization: as on API Gateway,
// only $connect can be authorized, and API keys are checked there.
func (c *Config) validateRouteAuth(path, key string, r *Route, add func(string, string, ...any)) {
	if key != "$connect" {
		if r.AuthorizationType != AuthorizationNone {
			add(path+".authorizationType", "only $connect can be authorized")
		}
		if r.APIKeyRequired {
			add(path+".apiKeyRequired", "API keys are checked on $connect only")
		}
		return
	}
	wantType := ""
	switch r.AuthorizationType {
	case AuthorizationNone:
	case AuthorizationCustom:
		wantType = AuthorizerRequest
	case AuthorizationJWT:
		wantType = AuthorizerJWT
	case AuthorizationIAM:
		if len(c.IAM.Credentials) == 0 {
			add(path+".authorizationType", "AWS_IAM needs iam.credentials")
		}
	default:
		add(path+".authorizationType", "%q: want NONE, CUSTOM, JWT or AWS_IAM", r.AuthorizationType)
	}
	switch {
	case wantType == "" && r.AuthorizerID != "":
		add(path+".authorizerId", "only with authorizationType CUSTOM or JWT")
	case wantType != "" && r.AuthorizerID == "":
		add(path+".authorizerId", "required with authorizationType %s", r.AuthorizationType)
	case wantType != "":
		a, ok := c.Authorizers[r.AuthorizerID]
		if !ok {
			add(path+".authorizerId", "unknown authorizer %q%s", r.AuthorizerID, suggest(r.AuthorizerID, sortedKeys(c.Authorizers)))
		} else if a != nil && a.Type != wantType {
			add(path+".authorizerId", "authorizer %q is %s; authorizationType %s needs a %s authorizer", r.AuthorizerID, a.Type, r.AuthorizationType, wantType)
		}
	}
	if len(r.AuthorizationScopes) > 0 && r.AuthorizationType != AuthorizationJWT {
		add(path+".authorizationScopes", "only with authorizationType JWT")
	}
	if r.APIKeyRequired && len(c.APIKeys) == 0 && c.APIKeysFile == "" {
		add(path+".apiKeyRequired", "no API keys: set apiKeys or apiKeysFile")
	}
	if r.APIKeyRequired && c.API.APIKeySelectionExpression == APIKeyFromAuthorizer && r.AuthorizationType != AuthorizationCustom {
		add(path+".apiKeyRequired", "api.apiKeySelectionExpression takes the key from a CUSTOM authorizer's usageIdentifierKey; this route has none")
	}
}

// checkOrigin validates an origins.allow entry.
func checkOrigin(o string) error {
	if o == "*" {
		return fmt.Errorf(`"*" would allow every origin: leave origins.allow empty instead`)
	}
	if o == "null" {
		return nil // sandboxed documents and file: pages send "null"
	}
	scheme, host, ok := strings.Cut(o, "://")
	if !ok || scheme == "" || host == "" || strings.ContainsAny(host, "/?#@ ") {
		return fmt.Errorf("%q: want scheme://host[:port], e.g. https://app.example.com or https://*.example.com", o)
	}
	if strings.Contains(strings.TrimPrefix(host, "*."), "*") {
		return fmt.Errorf("%q: a wildcard may only be the first label (https://*.example.com)", o)
	}
	return nil
}

// ParsePrefix reads a trusted proxy: an IP address or a CIDR prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q: want an IP address or CIDR prefix", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: want an IP address or CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
