package config

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/textdist"
)

// Defaults; the AWS API Gateway values where AWS has one.
const (
	DefaultListen                   = "127.0.0.1:8080"
	DefaultStage                    = "dev"
	DefaultRouteSelectionExpression = "$request.body.action"
	DefaultIdleTimeout              = 10 * time.Minute
	DefaultMaxConnectionDuration    = 2 * time.Hour
	DefaultMaxMessageBytes          = 128 << 10
	DefaultMaxFrameBytes            = 32 << 10
	DefaultSendQueueBytes           = 1 << 20
	DefaultWriteTimeout             = 10 * time.Second
	DefaultMaxInflightMessages      = 16
	DefaultHandshakeTimeout         = 10 * time.Second
	DefaultMaxHeaderBytes           = 16 << 10
	DefaultMaxURLLength             = 4096
	DefaultTimeoutInMillis          = 29000
	DefaultMaxClockSkew             = 5 * time.Minute
	DefaultShutdownTimeout          = 10 * time.Second

	// MaxTimeoutInMillis is the longest integration timeout accepted (API
	// Gateway stops at 29000; Switchboard allows longer).
	MaxTimeoutInMillis = 900000
	// maxMessageBytesCap keeps a typo from allowing gigabyte messages.
	maxMessageBytesCap = 64 << 20
	// maxHeaderBytesCap bounds a request head, as a sanity cap.
	maxHeaderBytesCap = 1 << 20
)

// Readers.
const (
	ReaderAuto      = "auto"
	ReaderEpoll     = "epoll"
	ReaderGoroutine = "goroutine"
)

// Auth modes of the management API.
const (
	AuthSigV4 = "sigv4"
	AuthNone  = "none"
)

// Binary frame policies.
const (
	BinaryReject = "reject"
	BinaryAllow  = "allow"
)

func (c *Config) applyDefaults() {
	setDefault(&c.Listen, DefaultListen)
	setDefault(&c.Reader, ReaderAuto)
	setDefault(&c.API.Name, "switchboard")
	if c.API.ID == "" {
		c.API.ID = DeriveAPIID(c.API.Name)
	}
	setDefault(&c.API.RouteSelectionExpression, DefaultRouteSelectionExpression)
	setDefault(&c.Stage.Name, DefaultStage)
	l := &c.Stage.Limits
	setDefault(&l.IdleTimeout, Duration(DefaultIdleTimeout))
	setDefault(&l.MaxConnectionDuration, Duration(DefaultMaxConnectionDuration))
	setDefault(&l.MaxMessageBytes, DefaultMaxMessageBytes)
	setDefault(&l.MaxFrameBytes, DefaultMaxFrameBytes)
	setDefault(&l.BinaryFrames, BinaryReject)
	setDefault(&l.SendQueueBytes, DefaultSendQueueBytes)
	setDefault(&l.WriteTimeout, Duration(DefaultWriteTimeout))
	setDefault(&l.MaxInflightMessages, DefaultMaxInflightMessages)
	setDefault(&l.HandshakeTimeout, Duration(DefaultHandshakeTimeout))
	setDefault(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&l.MaxURLLength, DefaultMaxURLLength)
	setDefault(&c.Management.Auth, AuthSigV4)
	setDefault(&c.Management.MaxClockSkew, Duration(DefaultMaxClockSkew))
	setDefault(&c.ShutdownTimeout, Duration(DefaultShutdownTimeout))
	c.applySecurityDefaults()
	c.applyOperationsDefaults()
	c.applyDisconnectDefaults()
	for _, in := range c.Integrations {
		if in == nil {
			continue
		}
		setDefault(&in.TimeoutInMillis, DefaultTimeoutInMillis)
		if in.Type == TypeHTTPProxy {
			setDefault(&in.IntegrationMethod, http.MethodPost)
		}
		if in.Type == TypeMock && in.Response == nil {
			in.Response = &MockResponse{}
		}
		if in.Response != nil {
			setDefault(&in.Response.StatusCode, http.StatusOK)
		}
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// DeriveAPIID makes a stable 10-character lowercase id from an API name,
// shaped like API Gateway's ids.
func DeriveAPIID(name string) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(name))
	id := make([]byte, 10)
	for i := range id {
		id[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(id)
}

var (
	stageNameRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	apiIDRE       = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)
	varNameRE     = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	paramNameRE   = regexp.MustCompile(`^integration\.request\.(header|querystring)\.([A-Za-z0-9._$-]+)$`)
	stageVarRefRE = regexp.MustCompile(`\$\{stageVariables\.([^}]*)\}|\$stageVariables\.([A-Za-z0-9_]+)`)
)

// Validate checks a defaulted configuration and returns every problem found.
func (c *Config) Validate() Problems {
	var p Problems
	add := func(path, format string, args ...any) {
		p = append(p, path+": "+fmt.Sprintf(format, args...))
	}

	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen", "want host:port: %v", err)
	}
	switch c.Reader {
	case ReaderAuto, ReaderEpoll, ReaderGoroutine:
	default:
		add("reader", "%q: want auto, epoll or goroutine", c.Reader)
	}
	if !apiIDRE.MatchString(c.API.ID) {
		add("api.id", "%q: want 1 to 64 letters and digits", c.API.ID)
	}
	if _, err := route.Compile(c.API.RouteSelectionExpression, route.Selection); err != nil {
		add("api.routeSelectionExpression", "%v", err)
	}
	if !stageNameRE.MatchString(c.Stage.Name) {
		add("stage.name", "%q: want 1 to 128 letters, digits, - and _", c.Stage.Name)
	}
	for _, name := range sortedKeys(c.Stage.Variables) {
		if !varNameRE.MatchString(name) {
			add("stage.variables."+name, "variable names may hold only letters, digits and _")
		}
	}
	c.validateLimits(add)
	c.validateManagement(add)
	c.validateSecurity(add)
	c.validateOperations(add)
	c.validateDisconnect(add)

	for _, name := range sortedKeys(c.Integrations) {
		c.validateIntegration("integrations."+name, c.Integrations[name], add)
	}
	if len(c.Routes) == 0 {
		add("routes", "no routes: define at least $default or one custom route")
	}
	for _, key := range sortedKeys(c.Routes) {
		path := "routes." + key
		r := c.Routes[key]
		if err := route.ValidateKey(key); err != nil {
			add(path, "%v", err)
		}
		if r == nil {
			add(path, "empty route: want {integration: NAME}")
			continue
		}
		switch {
		case r.Integration == "":
			add(path+".integration", "required")
		case c.Integrations[r.Integration] == nil:
			add(path+".integration", "unknown integration %q%s", r.Integration, suggest(r.Integration, sortedKeys(c.Integrations)))
		}
		if e := r.RouteResponseSelectionExpression; e != "" && e != route.Default {
			add(path+".routeResponseSelectionExpression", "%q: only $default is supported (as in API Gateway)", e)
		}
	}
	return sortProblems(p)
}

func (c *Config) validateLimits(add func(string, string, ...any)) {
	l := c.Stage.Limits
	const pfx = "stage.limits."
	positive := func(name string, v int) {
		if v < 0 {
			add(pfx+name, "must not be negative")
		}
	}
	positive("maxMessageBytes", l.MaxMessageBytes)
	positive("maxFrameBytes", l.MaxFrameBytes)
	positive("sendQueueBytes", l.SendQueueBytes)
	positive("maxInflightMessages", l.MaxInflightMessages)
	positive("maxConnections", l.MaxConnections)
	positive("maxUrlLength", l.MaxURLLength)
	if l.MaxHeaderBytes < 0 || l.MaxHeaderBytes > maxHeaderBytesCap {
		add(pfx+"maxHeaderBytes", "%d: want 1 to %d", l.MaxHeaderBytes, maxHeaderBytesCap)
	}
	if l.MaxURLLength > l.MaxHeaderBytes {
		add(pfx+"maxUrlLength", "%d is larger than maxHeaderBytes (%d)", l.MaxURLLength, l.MaxHeaderBytes)
	}
	if l.MaxMessageBytes > maxMessageBytesCap {
		add(pfx+"maxMessageBytes", "%d is above the %d-byte cap", l.MaxMessageBytes, maxMessageBytesCap)
	}
	if l.MaxFrameBytes > l.MaxMessageBytes {
		add(pfx+"maxFrameBytes", "%d is larger than maxMessageBytes (%d)", l.MaxFrameBytes, l.MaxMessageBytes)
	}
	if l.SendQueueBytes > 0 && l.SendQueueBytes < l.MaxMessageBytes {
		add(pfx+"sendQueueBytes", "%d cannot hold one message of maxMessageBytes (%d)", l.SendQueueBytes, l.MaxMessageBytes)
	}
	if l.BinaryFrames != BinaryReject && l.BinaryFrames != BinaryAllow {
		add(pfx+"binaryFrames", "%q: want reject or allow", l.BinaryFrames)
	}
}

func (c *Config) validateManagement(add func(string, string, ...any)) {
	m := c.Management
	switch m.Auth {
	case AuthNone:
	case AuthSigV4:
		if len(m.Credentials) == 0 {
			add("management.credentials", "auth sigv4 needs at least one credential (or set management.auth: none explicitly)")
		}
	default:
		add("management.auth", "%q: want sigv4 or none", m.Auth)
	}
	seen := map[string]bool{}
	for i, cr := range m.Credentials {
		checkKeyPair(fmt.Sprintf("management.credentials[%d]", i), cr.AccessKeyID, cr.SecretAccessKey, seen, add)
	}
}

// checkKeyPair checks one access key of a list: both parts set, the id
// not seen before in the list.
func checkKeyPair(path, id, secret string, seen map[string]bool, add func(string, string, ...any)) {
	if id == "" {
		add(path+".accessKeyId", "required")
	} else if seen[id] {
		add(path+".accessKeyId", "%q is listed twice", id)
	}
	seen[id] = true
	if secret == "" {
		add(path+".secretAccessKey", "required")
	}
}

func (c *Config) validateIntegration(path string, in *Integration, add func(string, string, ...any)) {
	if in == nil {
		add(path, "empty integration: want {type: ..., uri: ...}")
		return
	}
	uri, missing := c.SubstituteStageVariables(in.URI)
	for _, v := range missing {
		add(path+".uri", "stage variable %q is not defined in stage.variables", v)
	}
	switch in.Type {
	case TypeAWSProxy:
		if awsapi.IsLambdaURI(uri) {
			if _, err := awsapi.ParseLambdaURI(uri); err != nil {
				add(path+".uri", "%v", err)
			}
		} else {
			validateURL(path+".uri", uri, add)
		}
	case TypeHTTPProxy:
		validateURL(path+".uri", uri, add)
		if !validMethod(in.IntegrationMethod) {
			add(path+".integrationMethod", "%q: want an HTTP method such as POST", in.IntegrationMethod)
		}
	case TypeMock:
		if in.URI != "" {
			add(path+".uri", "MOCK takes no uri")
		}
	case "":
		add(path+".type", "required: AWS_PROXY, HTTP_PROXY or MOCK")
	default:
		add(path+".type", "%q: want AWS_PROXY, HTTP_PROXY or MOCK", in.Type)
	}
	if in.Type != TypeHTTPProxy && in.IntegrationMethod != "" {
		add(path+".integrationMethod", "only HTTP_PROXY takes integrationMethod (AWS_PROXY always POSTs)")
	}
	if in.TimeoutInMillis < 50 || in.TimeoutInMillis > MaxTimeoutInMillis {
		add(path+".timeoutInMillis", "%d: want 50 to %d", in.TimeoutInMillis, MaxTimeoutInMillis)
	}
	if len(in.RequestParameters) > 0 && in.Type != TypeHTTPProxy {
		add(path+".requestParameters", "only HTTP_PROXY takes requestParameters")
	}
	for _, k := range sortedKeys(in.RequestParameters) {
		if !paramNameRE.MatchString(k) {
			add(path+".requestParameters."+k, "want integration.request.header.NAME or integration.request.querystring.NAME")
		}
		if err := ValidateParameterSource(in.RequestParameters[k]); err != nil {
			add(path+".requestParameters."+k, "%v", err)
		} else if name, ok := strings.CutPrefix(in.RequestParameters[k], "stageVariables."); ok {
			if _, defined := c.Stage.Variables[name]; !defined {
				add(path+".requestParameters."+k, "stage variable %q is not defined in stage.variables", name)
			}
		}
	}
	if in.Response != nil {
		if in.Type != TypeMock {
			add(path+".response", "only MOCK takes response")
		}
		if s := in.Response.StatusCode; s < 200 || s > 599 {
			add(path+".response.statusCode", "%d: want 200 to 599", s)
		}
		if _, err := route.Compile(in.Response.Body, route.Template); err != nil {
			add(path+".response.body", "%v", err)
		}
		for _, h := range sortedKeys(in.Response.Headers) {
			if _, err := route.Compile(in.Response.Headers[h], route.Template); err != nil {
				add(path+".response.headers."+h, "%v", err)
			}
		}
	}
}

// ValidateParameterSource checks the right-hand side of a request-parameter
// mapping.
func ValidateParameterSource(src string) error {
	switch {
	case len(src) >= 2 && src[0] == '\'' && src[len(src)-1] == '\'':
		return nil
	case strings.HasPrefix(src, "route.request.header."), strings.HasPrefix(src, "route.request.querystring."),
		strings.HasPrefix(src, "route.request.multivalueheader."), strings.HasPrefix(src, "route.request.multivaluequerystring."):
		return nil
	case strings.HasPrefix(src, "route.request.body."), src == "route.request.body":
		_, err := route.Compile("$"+strings.TrimPrefix(src, "route."), route.BodyPath|route.WholeBody)
		return err
	case strings.HasPrefix(src, "context.") && len(src) > len("context."):
		return nil
	case strings.HasPrefix(src, "stageVariables.") && len(src) > len("stageVariables."):
		return nil
	}
	return fmt.Errorf("%q: want route.request.header.X, route.request.querystring.X, route.request.body.PATH, context.X, stageVariables.X or 'static'", src)
}

// SubstituteStageVariables replaces ${stageVariables.X} in s and returns
// the names it could not resolve.
func (c *Config) SubstituteStageVariables(s string) (string, []string) {
	var missing []string
	out := stageVarRefRE.ReplaceAllStringFunc(s, func(ref string) string {
		m := stageVarRefRE.FindStringSubmatch(ref)
		name := m[1] + m[2]
		v, ok := c.Stage.Variables[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	return out, missing
}

func validateURL(path, raw string, add func(string, string, ...any)) {
	if raw == "" {
		add(path, "required")
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		add(path, "%v", err)
		return
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add(path, "%q: want an http(s) URL or, for AWS_PROXY, a Lambda ARN", raw)
	}
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// suggest returns ` (did you mean "x"?)` for the closest name, if close.
func suggest(name string, options []string) string {
	best, bestDist := "", 3
	for _, o := range options {
		if d := textdist.Levenshtein(strings.ToLower(name), strings.ToLower(o)); d < bestDist {
			best, bestDist = o, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
