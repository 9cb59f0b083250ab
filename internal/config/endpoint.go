package config

import "github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"

// Endpoint is where a Tencent Cloud API service is reached (see package
// endpoint, which holds the rule).
type Endpoint = endpoint.Endpoint

// ParseEndpoint is endpoint.Parse: the rule every *_ENDPOINT variable obeys.
func ParseEndpoint(value string) (Endpoint, error) { return endpoint.Parse(value) }

// IsLoopback reports whether host (no port) names this machine.
func IsLoopback(host string) bool { return endpoint.IsLoopback(host) }

func validHostPort(hostport string) error { return endpoint.ValidHostPort(hostport) }
