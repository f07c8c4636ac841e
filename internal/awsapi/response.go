package awsapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// ProxyResponse is what a Lambda proxy integration returns.
type ProxyResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// ErrMalformedResponse is returned for a reply that is not a JSON object
// (or null).
var ErrMalformedResponse = errors.New("malformed Lambda proxy response")

// ParseProxyResponse reads a Lambda proxy response. A JSON null or an
// object without statusCode counts as 200, so a handler that returns
// nothing accepts a $connect.
func ParseProxyResponse(data []byte) (*ProxyResponse, error) {
	data = bytes.TrimSpace(data)
	r := &ProxyResponse{}
	if len(data) == 0 || data[0] != '{' && !bytes.Equal(data, []byte("null")) {
		return nil, fmt.Errorf("%w: want a JSON object", ErrMalformedResponse)
	}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedResponse, err)
	}
	if r.StatusCode == 0 {
		r.StatusCode = 200
	}
	return r, nil
}

// BodyBytes returns the body, base64-decoded when IsBase64Encoded.
func (r *ProxyResponse) BodyBytes() ([]byte, error) {
	if !r.IsBase64Encoded {
		return []byte(r.Body), nil
	}
	b, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: isBase64Encoded body is not base64: %v", ErrMalformedResponse, err)
	}
	return b, nil
}
