// Package model validates client messages against request models (JSON
// Schemas), as API Gateway does for WebSocket routes with a model selection
// expression. Everything is compiled once by [New]; [Set.Validate] is pure (no
// I/O, no goroutines) and safe for concurrent use.
//
// # Configuration
//
// A model is a named JSON Schema. Names are alphanumeric (API Gateway's rule
// for model names), at most 128 bytes. A model without "$schema" is read as
// draft-04, API Gateway's dialect (boolean exclusiveMaximum, "id", required
// with at least one name, ...). A model that names draft-06, draft-07,
// 2019-09 or 2020-12 in "$schema" gets that draft; any other "$schema" is an
// error. "format" is asserted for draft-04/06/07 and is an annotation for
// 2019-09 and 2020-12, the library's defaults and what each draft allows.
//
// A route with models has a modelSelectionExpression (a selection expression
// with the route package's grammar, e.g. $request.body.type, or the literal
// \$default; a bare $default is accepted too and means the same) and
// requestModels, a map from selection value to model name in which the key
// $default is the fallback.
//
// References: a model may "$ref" another configured model by name, relative
// to its own location ("Address", "Address#/definitions/street") or with API
// Gateway's absolute form https://apigateway.amazonaws.com/restapis/{id}/models/{Name}
// (any id). The JSON Schema meta-schemas (json-schema.org drafts) are built in.
// Every other reference (http, https, file, urn, ...) is refused at
// construction: nothing is ever fetched, so a schema's meaning cannot change
// after load and loading does no I/O.
//
// # Semantics
//
// For a message on route R, [Set.Validate] gives:
//
//	situation                                               outcome
//	R has no requestModels (or is not configured here)      nil: not validated, no allocation
//	message longer than MaxMessageBytes                     ErrLimit
//	message nested deeper than MaxDepth, or a number        ErrLimit
//	  with more than 100 digits or |exponent| > 400
//	expression reads the body and the body is not JSON      ErrNotJSON
//	value has a model in requestModels                      validated against that model
//	value (including "" for a missing path) has no model    validated against the $default model
//	  and $default is set
//	value has no model and there is no $default             ErrNoModel (AWS: "validation fails")
//	only $default in requestModels                          every message validated against it
//	static expression (\$default, "email")                  every message validated against that model
//	body is not JSON (empty, text, trailing data) and a     ErrNotJSON
//	  model was selected
//	body does not match the model                           ErrInvalid, Detail lists the failures
//	body matches the model                                  nil
//
// Every non-nil error is an [*Error]; the client gets the gateway's
// [BadRequestBody] frame, the log gets Error().
//
// # Decisions where API Gateway's behaviour is not documented
//
//   - A body that is not JSON never passes on a route with models, whichever
//     model would be selected: it cannot match a JSON Schema, so even a schema
//     of {} rejects it. (Route selection sends such a body to $default; if
//     that route has models, the message fails here.)
//   - A modelSelectionExpression without requestModels, or requestModels
//     without a modelSelectionExpression, is a construction error. AWS would
//     reject every message in the first case and validate nothing in the
//     second; both are almost certainly configuration mistakes, and failing at
//     load is safer than silently rejecting or silently accepting.
//   - A static expression that selects a key with no model, when there is no
//     $default, is a construction error (every message would fail).
//   - Models on $connect and $disconnect are refused: those routes carry no
//     message body.
//   - Limits that AWS does not document bound the work per message: depth
//     (default 64 levels of arrays and objects), numbers (at most 100 mantissa
//     digits, decimal exponent within ±400: the validator compares numbers
//     exactly with math/big, where 1e1000000 costs tens of milliseconds and
//     1e9999999 makes it panic). They are checked by one linear scan before
//     anything else reads the message. Within them the work is linear in the
//     message, but not small: the worst 128 KiB message found (20,000 numbers
//     like 1e400, each checked for integer, maximum, multipleOf and
//     uniqueness) takes about 250 ms and 90 MB of garbage on 2 shared cores
//     (BenchmarkValidateAdversarial). A model with "format": "regex" allows
//     worse: each such string is parsed as a regular expression (parsed, not
//     compiled: see parseRegexp), and 128 KiB of strings like [\p{L}\p{N}]
//     takes about 600 ms and 200 MB. Validation belongs off the connection's
//     reader, and per-connection throttling is the guard against a client
//     sending many such messages.
//   - A panic inside the validator (the one known, on huge exponents, is kept
//     out by the limits) is turned into ErrInternal rather than taking the
//     gateway down; the fuzz test treats ErrInternal as a bug.
package model
