// Package management serves the @connections API of API Gateway's
// ApiGatewayManagementApi (2018-11-29): PostToConnection, GetConnection and
// DeleteConnection on {stage}/@connections/{connectionId}, verified with
// AWS Signature Version 4, with errors the AWS SDKs turn into their typed
// exceptions.
package management

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/registry"
	"github.com/switchboardgw/switchboard/internal/session"
	"github.com/switchboardgw/switchboard/internal/sigv4"
	"github.com/switchboardgw/switchboard/internal/throttle"
)

// MaxPostBytes is PostToConnection's payload limit (131072 bytes).
const MaxPostBytes = 128 << 10

// bodyReadTimeout bounds reading a request body.
const bodyReadTimeout = 30 * time.Second

// Handler serves /{stage}/@connections/{id}. The server routes requests to
// it by path; Handler parses the id from the escaped path itself, because
// ids end in "=" and SDKs percent-encode them.
type Handler struct {
	// Prefixes are the escaped path prefixes before the id, e.g.
	// "/dev/@connections/" and "/dev/%40connections/".
	prefixes    []string
	conns       *registry.Registry[*session.Conn]
	verifier    *sigv4.Verifier // nil: no authentication
	allowBinary bool
	ids         *registry.IDs
	log         *slog.Logger
	throttle    *throttle.Bucket // nil: no rate limit
	onThrottle  func()
}

// Options configure a Handler.
type Options struct {
	Stage       string
	Conns       *registry.Registry[*session.Conn]
	Verifier    *sigv4.Verifier // nil disables authentication (auth: none)
	AllowBinary bool
	IDs         *registry.IDs
	Log         *slog.Logger
	// Throttle, when set, limits the rate of authenticated calls: more get
	// 429 LimitExceededException. OnThrottle, if set, is told of each.
	Throttle   *throttle.Bucket
	OnThrottle func()
}

// New returns the handler.
func New(o Options) *Handler {
	return &Handler{
		prefixes:    []string{"/" + o.Stage + "/@connections/", "/" + o.Stage + "/%40connections/"},
		conns:       o.Conns,
		verifier:    o.Verifier,
		allowBinary: o.AllowBinary,
		ids:         o.IDs,
		log:         o.Log,
		throttle:    o.Throttle,
		onThrottle:  o.OnThrottle,
	}
}

// Matches reports whether an escaped request path belongs to this API.
func (h *Handler) Matches(escapedPath string) bool {
	for _, p := range h.prefixes {
		if strings.HasPrefix(escapedPath, p) || escapedPath == p[:len(p)-1] {
			return true
		}
	}
	return false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", h.ids.New())
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPostBytes+1))
	if err != nil {
		h.writeError(w, errReadBody)
		return
	}
	if len(body) > MaxPostBytes {
		h.writeError(w, errTooLarge)
		return
	}
	if h.verifier != nil {
		if err := h.verifier.Verify(r, body); err != nil {
			var se *sigv4.Error
			if errors.As(err, &se) {
				h.log.Info("management request refused", slog.String("code", se.Code), slog.String("reason", se.Reason),
					slog.String("method", r.Method), slog.String("path", r.URL.EscapedPath()))
				h.writeError(w, forbidden(se.Message))
				return
			}
			h.writeError(w, errForbidden)
			return
		}
	}
	// Throttled after authentication, so that unsigned requests cannot
	// spend the backends' budget.
	if h.throttle != nil && !h.throttle.Allow(throttle.Now()) {
		if h.onThrottle != nil {
			h.onThrottle()
		}
		h.writeError(w, errRateExceeded)
		return
	}

	id, ok := h.connectionID(r.URL.EscapedPath())
	if !ok {
		h.writeError(w, forbidden("No method found matching route "+r.URL.EscapedPath()+" for http method "+r.Method+"."))
		return
	}
	conn, found := h.conns.Get(id)
	switch r.Method {
	case http.MethodPost:
		if !found {
			h.writeError(w, errGone)
			return
		}
		binary := !utf8.Valid(body)
		if binary && !h.allowBinary {
			h.writeError(w, errNotUTF8)
			return
		}
		switch err := conn.Send(body, binary); {
		case errors.Is(err, session.ErrQueueFull):
			h.writeError(w, errLimitExceeded)
		case errors.Is(err, session.ErrTooLarge):
			h.writeError(w, errOverQueue)
		case err != nil:
			h.writeError(w, errGone)
		default:
			w.WriteHeader(http.StatusOK)
		}
	case http.MethodGet:
		if !found {
			h.writeError(w, errGone)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(appendConnectionJSON(nil, conn))
	case http.MethodDelete:
		if !found {
			h.writeError(w, errGone)
			return
		}
		conn.Close(session.CodeNormal, session.ReasonNormal)
		w.WriteHeader(http.StatusNoContent)
	default:
		h.writeError(w, forbidden("No method found matching route "+r.URL.EscapedPath()+" for http method "+r.Method+"."))
	}
}

// connectionID extracts and unescapes the id segment of an escaped path.
func (h *Handler) connectionID(escapedPath string) (string, bool) {
	for _, p := range h.prefixes {
		if raw, ok := strings.CutPrefix(escapedPath, p); ok {
			id, err := url.PathUnescape(raw)
			if err != nil || id == "" {
				return "", false
			}
			return id, true
		}
	}
	return "", false
}

// appendConnectionJSON writes GetConnection's answer.
func appendConnectionJSON(dst []byte, c *session.Conn) []byte {
	const iso = "2006-01-02T15:04:05.000Z"
	dst = append(dst, `{"connectedAt":"`...)
	dst = time.UnixMilli(c.ConnectedAt).UTC().AppendFormat(dst, iso)
	dst = append(dst, `","identity":{"sourceIp":`...)
	dst = awsapi.AppendJSONString(dst, c.SourceIP)
	dst = append(dst, `,"userAgent":`...)
	if c.UserAgent == "" {
		dst = append(dst, "null"...)
	} else {
		dst = awsapi.AppendJSONString(dst, c.UserAgent)
	}
	dst = append(dst, `},"lastActiveAt":"`...)
	dst = time.UnixMilli(c.LastActiveAt()).UTC().AppendFormat(dst, iso)
	return append(dst, `"}`...)
}
