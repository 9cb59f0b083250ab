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

// httpShape recognises an HTTP event by the members that set the shapes
// apart, or returns "". It reads only the top-level members Parse has
// already split out, and requestContext's.
func httpShape(obj map[string]json.RawMessage) string {
	rc, _ := decodeObject(obj["requestContext"]) // nil unless an object
	if stringField(obj, "version") == "2.0" {
		// Payload 2.0 (HTTP API, Lambda function URL) has rawPath and
		// requestContext.http; 1.0 from an HTTP API looks like REST v1.
		_, raw := obj["rawPath"]
		_, http := rc["http"]
		switch {
		case !raw && !http:
			return ""
		case strings.Contains(stringField(rc, "domainName"), ".lambda-url."):
			// A function URL's domain is always <url-id>.lambda-url.<region>.on.aws
			// (also behind CloudFront); an HTTP API's never is.
			return ShapeAWSFunctionURL
		}
		return ShapeAWSHTTPv2
	}
	if _, ok := obj["httpMethod"]; !ok {
		return ""
	}
	if _, ok := obj["resource"]; ok {
		return ShapeAWSRESTv1
	}
	if _, ok := obj["path"]; !ok {
		return ""
	}
	// Only the API Gateway integration request names its service; a
	// function URL event is the same shape with requestContext removed.
	if stringField(rc, "serviceId") != "" {
		return ShapeSCFAPIGateway
	}
	return ShapeSCFFunctionURL
}

// scfEvent is the union of the SCF HTTP shapes' members this package reads
// (function URL and API Gateway): SCF sends a header or query value as a
// string, a list, true or null, which no aws-lambda-go type accepts.
type scfEvent struct {
	HTTPMethod string `json:"httpMethod"`
	Path       string `json:"path"`

	Headers           map[string]values `json:"headers"`
	MultiValueHeaders map[string]values `json:"multiValueHeaders"`

	QueryString           map[string]values `json:"queryString"`
	QueryStringParameters map[string]values `json:"queryStringParameters"`

	Body            string `json:"body"`
	IsBase64Encoded bool   `json:"isBase64Encoded"`

	RequestContext struct {
		RequestID string `json:"requestId"`
		SourceIP  string `json:"sourceIp"`
	} `json:"requestContext"`
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

// parseHTTP decodes payload once, into the type of its shape: the SCF
// union above, or aws-lambda-go's events type for the AWS shapes.
func parseHTTP(shape string, payload []byte) (Event, error) {
	var (
		r = &HTTPRequest{Shape: shape, Headers: http.Header{}, Query: url.Values{}}

		body   string
		base64 bool
		err    error
	)
	switch shape {
	case ShapeAWSRESTv1:
		var e events.APIGatewayProxyRequest
		if err = json.Unmarshal(payload, &e); err == nil {
			r.Method, r.Path = e.HTTPMethod, e.Path
			r.SourceIP, r.RequestID = e.RequestContext.Identity.SourceIP, e.RequestContext.RequestID
			// REST v1 repeats every header in multiValueHeaders with all
			// its values; headers then only fills in what that map lacks.
			merge(r.Headers, e.MultiValueHeaders, textproto.CanonicalMIMEHeaderKey)
			merge(r.Headers, e.Headers, textproto.CanonicalMIMEHeaderKey)
			merge(r.Query, e.MultiValueQueryStringParameters, identity)
			merge(r.Query, e.QueryStringParameters, identity)
			body, base64 = e.Body, e.IsBase64Encoded
		}
	case ShapeAWSHTTPv2:
		var e events.APIGatewayV2HTTPRequest
		if err = json.Unmarshal(payload, &e); err == nil {
			h := e.RequestContext.HTTP
			payload2(r, h.Method, e.RawPath, h.Path, h.SourceIP, e.RequestContext.RequestID, e.RawQueryString, e.Headers, e.Cookies)
			body, base64 = e.Body, e.IsBase64Encoded
		}
	case ShapeAWSFunctionURL:
		var e events.LambdaFunctionURLRequest
		if err = json.Unmarshal(payload, &e); err == nil {
			h := e.RequestContext.HTTP
			payload2(r, h.Method, e.RawPath, h.Path, h.SourceIP, e.RequestContext.RequestID, e.RawQueryString, e.Headers, e.Cookies)
			body, base64 = e.Body, e.IsBase64Encoded
		}
	default: // ShapeSCFFunctionURL, ShapeSCFAPIGateway
		var e scfEvent
		if err = json.Unmarshal(payload, &e); err == nil {
			r.Method, r.Path, r.RequestID = e.HTTPMethod, e.Path, e.RequestContext.RequestID
			merge(r.Headers, e.MultiValueHeaders, textproto.CanonicalMIMEHeaderKey)
			merge(r.Headers, e.Headers, textproto.CanonicalMIMEHeaderKey)
			r.SourceIP = e.RequestContext.SourceIP
			if ip := r.Headers.Get("X-Scf-Remote-Addr"); shape == ShapeSCFFunctionURL && ip != "" {
				r.SourceIP = ip
			}
			merge(r.Query, e.QueryString, identity)
			merge(r.Query, e.QueryStringParameters, identity)
			body, base64 = e.Body, e.IsBase64Encoded
		}
	}
	if err != nil {
		return Event{}, shapeError(shape, "%s", fieldError(err))
	}
	r.Method = strings.ToUpper(r.Method)
	r.Body = []byte(body)
	if base64 {
		if r.Body, err = b64.DecodeString(body); err != nil {
			return Event{}, shapeError(shape, "isBase64Encoded is true but the body is not valid base64")
		}
	}
	return Event{Kind: HTTP, HTTP: r}, nil
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
