package event

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

var b64 = base64.StdEncoding

// APIGatewayRequest is an SCF HTTP event: a function URL's, or the legacy
// API Gateway trigger's, which has the same members and a requestContext.
// Its fields are those of scf-go-lib's events.APIGatewayRequest that this
// package reads, with the members SCF sends and that type leaves out
// (multiValueHeaders, queryStringParameters, isBase64Encoded). A header or
// query value is a values: SCF sends a string, a list, true or null, which
// neither scf-go-lib's nor aws-lambda-go's types accept.
type APIGatewayRequest struct {
	Method string `json:"httpMethod"`
	Path   string `json:"path"`

	Headers           map[string]values `json:"headers,omitempty"`
	MultiValueHeaders map[string]values `json:"multiValueHeaders,omitempty"`

	QueryString           map[string]values `json:"queryString,omitempty"`
	QueryStringParameters map[string]values `json:"queryStringParameters,omitempty"`

	Body            string `json:"body,omitempty"`
	IsBase64Encoded bool   `json:"isBase64Encoded,omitempty"`

	Context APIGatewayRequestContext `json:"requestContext"`
}

// APIGatewayRequestContext is the part of an SCF requestContext this
// package reads (scf-go-lib's type of the same name has more).
type APIGatewayRequestContext struct {
	RequestID string `json:"requestId,omitempty"`
	SourceIP  string `json:"sourceIp,omitempty"`
}

// values is a header or query value as the SCF shapes send it: a string, a
// list of strings (repeated key), true (key without value), or null.
type values []string

var errValues = errors.New("a header or query value is neither a string nor a list of strings")

func (v *values) UnmarshalJSON(data []byte) error {
	switch data[0] { // json hands over one complete, valid value
	case 'n':
		*v = nil
		return nil
	case 't':
		*v = values{""}
		return nil
	case '"':
		var s string
		err := json.Unmarshal(data, &s)
		*v = values{s}
		return err
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return errValues
	}
	*v = list
	return nil
}

// MarshalJSON writes v as SCF would send it: one empty value as true (a
// key without a value), any other single value as a string.
func (v values) MarshalJSON() ([]byte, error) {
	switch {
	case v == nil:
		return []byte("null"), nil
	case len(v) == 1 && v[0] == "":
		return []byte("true"), nil
	case len(v) == 1:
		return json.Marshal(v[0])
	}
	return json.Marshal([]string(v))
}

// parseHTTP decodes payload once, into the type of its shape: aws-lambda-go's
// events type for the AWS shapes, APIGatewayRequest for the SCF ones.
func parseHTTP(shape string, payload []byte) (Event, error) {
	switch shape {
	case ShapeAWSRESTv1:
		return decodeHTTP(shape, payload, fromRESTv1)
	case ShapeAWSHTTPv2:
		return decodeHTTP(shape, payload, fromHTTPv2)
	case ShapeAWSFunctionURL:
		return decodeHTTP(shape, payload, fromFunctionURL)
	}
	return decodeHTTP(shape, payload, fromSCF) // ShapeSCFFunctionURL, ShapeSCFAPIGateway
}

// decodeHTTP decodes payload into T and has from fill the request from it;
// from returns the body as the event carries it.
func decodeHTTP[T any](shape string, payload []byte, from func(*HTTPRequest, *T) (body string, isBase64 bool)) (Event, error) {
	var e T
	if err := json.Unmarshal(payload, &e); err != nil {
		return Event{}, shapeError(shape, "%s", fieldError(err))
	}
	r := &HTTPRequest{Shape: shape, Headers: http.Header{}, Query: url.Values{}}
	body, isBase64 := from(r, &e)
	r.Method = strings.ToUpper(r.Method)
	r.Body = []byte(body)
	if isBase64 {
		var err error
		if r.Body, err = b64.DecodeString(body); err != nil {
			return Event{}, shapeError(shape, "isBase64Encoded is true but the body is not valid base64")
		}
	}
	return Event{Kind: HTTP, HTTP: r}, nil
}

func fromRESTv1(r *HTTPRequest, e *events.APIGatewayProxyRequest) (string, bool) {
	r.Method, r.Path = e.HTTPMethod, e.Path
	r.SourceIP, r.RequestID = e.RequestContext.Identity.SourceIP, e.RequestContext.RequestID
	// REST v1 repeats every header in multiValueHeaders with all its
	// values; headers then only fills in what that map lacks.
	merge(r.Headers, e.MultiValueHeaders, textproto.CanonicalMIMEHeaderKey)
	merge(r.Headers, e.Headers, textproto.CanonicalMIMEHeaderKey)
	merge(r.Query, e.MultiValueQueryStringParameters, identity)
	merge(r.Query, e.QueryStringParameters, identity)
	return e.Body, e.IsBase64Encoded
}

func fromHTTPv2(r *HTTPRequest, e *events.APIGatewayV2HTTPRequest) (string, bool) {
	h := e.RequestContext.HTTP
	payload2(r, h.Method, e.RawPath, h.Path, h.SourceIP, e.RequestContext.RequestID, e.RawQueryString, e.Headers, e.Cookies)
	return e.Body, e.IsBase64Encoded
}

func fromFunctionURL(r *HTTPRequest, e *events.LambdaFunctionURLRequest) (string, bool) {
	h := e.RequestContext.HTTP
	payload2(r, h.Method, e.RawPath, h.Path, h.SourceIP, e.RequestContext.RequestID, e.RawQueryString, e.Headers, e.Cookies)
	return e.Body, e.IsBase64Encoded
}

func fromSCF(r *HTTPRequest, e *APIGatewayRequest) (string, bool) {
	r.Method, r.Path = e.Method, e.Path
	r.SourceIP, r.RequestID = e.Context.SourceIP, e.Context.RequestID
	merge(r.Headers, e.MultiValueHeaders, textproto.CanonicalMIMEHeaderKey)
	merge(r.Headers, e.Headers, textproto.CanonicalMIMEHeaderKey)
	if ip := r.Headers.Get("X-Scf-Remote-Addr"); r.Shape == ShapeSCFFunctionURL && ip != "" {
		r.SourceIP = ip
	}
	merge(r.Query, e.QueryString, identity)
	merge(r.Query, e.QueryStringParameters, identity)
	return e.Body, e.IsBase64Encoded
}

// payload2 fills r from the members payload format 2.0 shares between the
// HTTP API and function URLs.
func payload2(r *HTTPRequest, method, rawPath, httpPath, sourceIP, requestID, rawQuery string, headers map[string]string, cookies []string) {
	r.Method, r.Path, r.SourceIP, r.RequestID = method, rawPath, sourceIP, requestID
	if r.Path == "" {
		r.Path = httpPath
	}
	merge(r.Headers, headers, textproto.CanonicalMIMEHeaderKey)
	// Nothing is routed on the query, so a malformed pair is dropped
	// rather than failing the request; the valid pairs are kept.
	r.Query, _ = url.ParseQuery(rawQuery)
	if len(cookies) > 0 {
		// Payload 2.0 moves Cookie headers into cookies.
		r.Headers.Add("Cookie", strings.Join(cookies, "; "))
	}
}

// merge adds src to dst under canon(key), except keys dst held before the
// call: those came from a source that already had every value. Keys are
// taken in sorted order so that the order of a header's values (and so
// Header.Get) does not depend on map iteration.
func merge[V string | []string | values](dst map[string][]string, src map[string]V, canon func(string) string) {
	had := make(map[string]bool, len(dst))
	for k := range dst {
		had[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(src)) {
		ck := canon(k)
		switch v := any(src[k]).(type) {
		case string:
			if !had[ck] {
				dst[ck] = append(dst[ck], v)
			}
		case []string:
			if !had[ck] && len(v) > 0 {
				dst[ck] = append(dst[ck], v...)
			}
		case values:
			if !had[ck] && len(v) > 0 {
				dst[ck] = append(dst[ck], v...)
			}
		}
	}
}

func identity(s string) string { return s }

// fieldError describes a decoding error by the member at fault. The
// decoder's own messages are avoided because they may quote a value.
func fieldError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field + " has the wrong type"
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return "time is not an RFC 3339 timestamp"
	}
	if errors.Is(err, errValues) {
		return errValues.Error()
	}
	return "malformed event"
}
