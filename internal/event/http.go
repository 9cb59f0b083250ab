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
)

// httpShape recognises an HTTP event by the members that set the shapes
// apart, or returns "".
func httpShape(obj map[string]json.RawMessage) string {
	rc, _ := decodeObject(obj["requestContext"]) // nil unless an object
	if stringField(obj, "version") == "2.0" {
		// Payload 2.0 (HTTP API, Lambda function URL) has rawPath and
		// requestContext.http; 1.0 from an HTTP API looks like REST v1.
		if _, ok := obj["rawPath"]; ok {
			return ShapeAWSHTTPv2
		}
		if _, ok := rc["http"]; ok {
			return ShapeAWSHTTPv2
		}
		return ""
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

// httpEvent is the union of the HTTP shapes' members this package reads.
type httpEvent struct {
	HTTPMethod     string `json:"httpMethod"`
	Path           string `json:"path"`
	RawPath        string `json:"rawPath"`
	RawQueryString string `json:"rawQueryString"`

	Headers           map[string]values `json:"headers"`
	MultiValueHeaders map[string]values `json:"multiValueHeaders"`
	Cookies           []string          `json:"cookies"`

	QueryString                     map[string]values `json:"queryString"`
	QueryStringParameters           map[string]values `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string]values `json:"multiValueQueryStringParameters"`

	Body            string `json:"body"`
	IsBase64Encoded bool   `json:"isBase64Encoded"`

	RequestContext struct {
		RequestID string `json:"requestId"`
		SourceIP  string `json:"sourceIp"` // SCF API Gateway
		Identity  struct {
			SourceIP string `json:"sourceIp"` // AWS REST v1
		} `json:"identity"`
		HTTP struct { // AWS payload 2.0
			Method   string `json:"method"`
			Path     string `json:"path"`
			SourceIP string `json:"sourceIp"`
		} `json:"http"`
	} `json:"requestContext"`
}

// values is a header or query value as the shapes send it: a string, a list
// of strings (repeated key), true (SCF: key without value), or null.
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

func parseHTTP(shape string, payload []byte) (Event, error) {
	var e httpEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return Event{}, shapeError(shape, "%s", fieldError(err))
	}
	r := &HTTPRequest{
		Shape:     shape,
		Method:    e.HTTPMethod,
		Path:      e.Path,
		Headers:   http.Header{},
		Query:     url.Values{},
		RequestID: e.RequestContext.RequestID,
	}
	// REST v1 repeats every header in multiValueHeaders with all its
	// values; headers then only fills in what that map lacks.
	merge(r.Headers, e.MultiValueHeaders, textproto.CanonicalMIMEHeaderKey)
	merge(r.Headers, e.Headers, textproto.CanonicalMIMEHeaderKey)
	switch shape {
	case ShapeAWSHTTPv2:
		r.Method = e.RequestContext.HTTP.Method
		r.Path = e.RawPath
		if r.Path == "" {
			r.Path = e.RequestContext.HTTP.Path
		}
		r.SourceIP = e.RequestContext.HTTP.SourceIP
		// Nothing is routed on the query, so a malformed pair is dropped
		// rather than failing the request; the valid pairs are kept.
		r.Query, _ = url.ParseQuery(e.RawQueryString)
		if len(e.Cookies) > 0 {
			r.Headers.Add("Cookie", strings.Join(e.Cookies, "; "))
		}
	case ShapeAWSRESTv1:
		r.SourceIP = e.RequestContext.Identity.SourceIP
		merge(r.Query, e.MultiValueQueryStringParameters, identity)
		merge(r.Query, e.QueryStringParameters, identity)
	case ShapeSCFAPIGateway, ShapeSCFFunctionURL:
		r.SourceIP = e.RequestContext.SourceIP
		if ip := r.Headers.Get("X-Scf-Remote-Addr"); shape == ShapeSCFFunctionURL && ip != "" {
			r.SourceIP = ip
		}
		merge(r.Query, e.QueryString, identity)
		merge(r.Query, e.QueryStringParameters, identity)
	}
	r.Method = strings.ToUpper(r.Method)
	r.Body = []byte(e.Body)
	if e.IsBase64Encoded {
		body, err := base64.StdEncoding.DecodeString(e.Body)
		if err != nil {
			return Event{}, shapeError(shape, "isBase64Encoded is true but the body is not valid base64")
		}
		r.Body = body
	}
	return Event{Kind: HTTP, HTTP: r}, nil
}

// merge adds src to dst under canon(key), except keys dst held before the
// call: those came from a source that already had every value. Keys are
// taken in sorted order so that the order of a header's values (and so
// Header.Get) does not depend on map iteration.
func merge(dst map[string][]string, src map[string]values, canon func(string) string) {
	had := make(map[string]bool, len(dst))
	for k := range dst {
		had[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(src)) {
		ck := canon(k)
		if had[ck] || len(src[k]) == 0 {
			continue
		}
		dst[ck] = append(dst[ck], src[k]...)
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
	if errors.Is(err, errValues) {
		return errValues.Error()
	}
	return "malformed event"
}
