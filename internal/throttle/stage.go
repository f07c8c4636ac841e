package throttle

import "fmt"

// StageOptions configures a [Stage] from a stage's route settings.
type StageOptions struct {
	// Default is defaultRouteSettings' throttle: every route without its
	// own entry in Routes gets a bucket of its own with these limits. nil:
	// such routes are not throttled (as a stage whose default route
	// settings carry no throttling fields). API Gateway's value for a new
	// stage is [AWSDefault].
	Default *Limit
	// Routes is routeSettings' throttles by route key; each overrides
	// Default for its route.
	Routes map[string]Limit
	// Keys lists every route key of the API, so that each gets its bucket
	// up front. Keys of Routes are included whether listed or not. A key
	// asked for that is in neither is throttled by one fallback bucket,
	// with the Default limits, shared by all such keys.
	Keys []string
	// Account, if not nil, is charged for every request a route admits,
	// after the route's own bucket: AWS's account-level throttle, shared by
	// every route (and by whatever else the caller charges to it). A
	// request it refuses gives its token back to the route.
	Account *Bucket
	// Now is the clock (nanoseconds, see [Now]); nil: [Now].
	Now func() int64
	// Previous, if not nil, is the Stage this one replaces (a reload): a
	// route whose limits are unchanged keeps its bucket, and so its state,
	// instead of starting full.
	Previous *Stage
}

// Stage holds the route throttles of one stage. It is immutable after
// [NewStage] apart from its buckets' state, and safe for concurrent use.
type Stage struct {
	routes   map[string]*Route
	fallback *Route
	now      func() int64
}

// Route is one route's throttle, a handle a route table can resolve once
// and keep.
type Route struct {
	bucket  *Bucket // nil: unlimited
	account *Bucket // nil: none
	now     func() int64
}

// NewStage builds the route throttles o describes.
func NewStage(o StageOptions) (*Stage, error) {
	s := &Stage{routes: make(map[string]*Route, len(o.Keys)+len(o.Routes)), now: o.Now}
	if s.now == nil {
		s.now = Now
	}
	var def *Rate
	if o.Default != nil {
		r, err := NewRate(*o.Default)
		if err != nil {
			return nil, fmt.Errorf("default route settings: %w", err)
		}
		def = &r
	}
	var prev map[string]*Route
	if o.Previous != nil {
		prev = o.Previous.routes
	}
	add := func(key string, r *Rate) {
		var b *Bucket
		if old := prev[key]; old != nil && old.bucket != nil && r != nil && old.bucket.rate == *r {
			b = old.bucket
		} else if r != nil && !r.Unlimited() {
			b = &Bucket{rate: *r}
		}
		s.routes[key] = &Route{bucket: b, account: o.Account, now: s.now}
	}
	for key, l := range o.Routes {
		r, err := NewRate(l)
		if err != nil {
			return nil, fmt.Errorf("route settings %q: %w", key, err)
		}
		add(key, &r)
	}
	for _, key := range o.Keys {
		if _, ok := s.routes[key]; !ok {
			add(key, def)
		}
	}
	s.fallback = &Route{account: o.Account, now: s.now}
	if def != nil && !def.Unlimited() {
		if o.Previous != nil && o.Previous.fallback.bucket != nil && o.Previous.fallback.bucket.rate == *def {
			s.fallback.bucket = o.Previous.fallback.bucket
		} else {
			s.fallback.bucket = &Bucket{rate: *def}
		}
	}
	return s, nil
}

// Route returns the throttle of the route with key routeKey (the fallback
// for a key NewStage was not told about). It never returns nil.
func (s *Stage) Route(routeKey string) *Route {
	if r := s.routes[routeKey]; r != nil {
		return r
	}
	return s.fallback
}

// AllowRoute reports whether a request to routeKey may go ahead now, and
// takes a token from the route's bucket (and the account bucket) if so.
func (s *Stage) AllowRoute(routeKey string) bool {
	return s.Route(routeKey).AllowAt(s.now())
}

// AllowRouteAt is AllowRoute at a time the caller has read (see [Nanos]).
func (s *Stage) AllowRouteAt(routeKey string, now int64) bool {
	return s.Route(routeKey).AllowAt(now)
}

// Allow reports whether a request to the route may go ahead now.
func (r *Route) Allow() bool { return r.AllowAt(r.now()) }

// AllowAt reports whether a request to the route may go ahead at now: the
// route's bucket first, then the account bucket; a request refused by the
// account bucket gives its token back to the route.
func (r *Route) AllowAt(now int64) bool {
	if !r.bucket.Allow(now) {
		return false
	}
	if !r.account.Allow(now) {
		r.bucket.undo()
		return false
	}
	return true
}
