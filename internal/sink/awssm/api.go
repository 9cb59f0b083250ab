package awssm

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"
)

// Environment variables NewAPI reads, the ones the SDK's standard chain
// reads for the same purpose.
const (
	EnvRegion          = "AWS_REGION"
	EnvDefaultRegion   = "AWS_DEFAULT_REGION"
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken    = "AWS_SESSION_TOKEN"
	EnvEndpoint        = "AWS_ENDPOINT_URL_SECRETS_MANAGER"
	EnvEndpointAll     = "AWS_ENDPOINT_URL"
	EnvCABundle        = "AWS_CA_BUNDLE"
)

// NewAPI returns a Secrets Manager client configured from getenv (the
// process environment in production, a map in tests):
//
//   - region: AWS_REGION, else AWS_DEFAULT_REGION;
//   - credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//     AWS_SESSION_TOKEN as a static provider (on Lambda these are the
//     role's credentials); when neither key variable is set, the rest of the
//     SDK's default chain (shared files, container and instance roles) as
//     config.LoadDefaultConfig finds it;
//   - endpoint: AWS_ENDPOINT_URL_SECRETS_MANAGER, else AWS_ENDPOINT_URL,
//     https, or http for a loopback host only;
//   - no SDK retries: the sink retries through internal/retry, so that one
//     timer bounds one attempt and an attempt is one request.
//
// httpClient nil means a shared client without timers of its own (the
// attempt's context bounds connect, TLS and answer), trusting the
// certificates in AWS_CA_BUNDLE when it is set.
//
// The default chain, when used, fetches credentials with the SDK's own HTTP
// client: config.LoadDefaultConfig refuses a plain *http.Client when the
// process has AWS_CA_BUNDLE set ("has no WithTransportOptions").
func NewAPI(environ func(string) string, httpClient aws.HTTPClient) (*secretsmanager.Client, error) {
	// Trimmed as config reads them, so what config accepted is what is used.
	getenv := func(name string) string { return strings.TrimSpace(environ(name)) }
	if httpClient == nil {
		httpClient = sharedHTTPClient
		if path := getenv(EnvCABundle); path != "" {
			c, err := caBundleClient(path)
			if err != nil {
				return nil, fmt.Errorf("aws: %s: %w", EnvCABundle, err)
			}
			httpClient = c
		}
	}
	region := getenv(EnvRegion)
	if region == "" {
		region = getenv(EnvDefaultRegion)
	}
	if region == "" {
		return nil, fmt.Errorf("aws: %s is not set (nor %s): the region of the secrets", EnvRegion, EnvDefaultRegion)
	}
	opts := secretsmanager.Options{
		Region:     region,
		HTTPClient: httpClient,
		Retryer:    aws.NopRetryer{},
		// Also set: a RetryMaxAttempts from elsewhere must not wrap the
		// NopRetryer into one that retries.
		RetryMaxAttempts: 1,
	}
	for _, name := range []string{EnvEndpoint, EnvEndpointAll} {
		value := getenv(name)
		if value == "" {
			continue
		}
		ep, err := endpoint.Parse(value)
		if err != nil {
			return nil, fmt.Errorf("aws: %s: %w", name, err)
		}
		opts.BaseEndpoint = aws.String(ep.URL())
		break
	}
	id, key, token := getenv(EnvAccessKeyID), getenv(EnvSecretAccessKey), getenv(EnvSessionToken)
	switch {
	case id != "" && key != "":
		opts.Credentials = credentials.NewStaticCredentialsProvider(id, key, token)
	case id != "":
		return nil, fmt.Errorf("aws: %s is set but %s is not", EnvAccessKeyID, EnvSecretAccessKey)
	case key != "":
		return nil, fmt.Errorf("aws: %s is set but %s is not", EnvSecretAccessKey, EnvAccessKeyID)
	case token != "":
		return nil, fmt.Errorf("aws: %s is set without %s and %s", EnvSessionToken, EnvAccessKeyID, EnvSecretAccessKey)
	default:
		// Loading reads files and the process environment only; credentials
		// are fetched on first use.
		cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(region))
		if err != nil {
			return nil, fmt.Errorf("aws: loading the default credential chain: %w", err)
		}
		opts.Credentials = cfg.Credentials
	}
	return secretsmanager.New(opts), nil
}

// caBundleClient is sharedHTTPClient's setup trusting the PEM certificates
// in path (and no others, as the SDK does).
func caBundleClient(path string) (*http.Client, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// One client per bundle for the life of the process: a new transport
	// per invocation would never reuse a connection.
	key := sha256.Sum256(append([]byte(path+"\x00"), pem...))
	caClients.mu.Lock()
	defer caClients.mu.Unlock()
	if c, ok := caClients.byBundle[key]; ok {
		return c, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	c := *sharedHTTPClient
	c.Transport = endpoint.TransportTrusting(pool)
	if caClients.byBundle == nil {
		caClients.byBundle = map[[sha256.Size]byte]*http.Client{}
	}
	caClients.byBundle[key] = &c
	return &c, nil
}

// caClients are the clients caBundleClient made, by path and contents.
var caClients struct {
	mu       sync.Mutex
	byBundle map[[sha256.Size]byte]*http.Client
}

// sharedHTTPClient keeps connections alive across clients. It has no timers
// of its own: the attempt's context bounds connect, TLS and answer, so that
// exactly one timer ends an attempt (the SDK's default client has a 30 s
// dialer and a 10 s TLS timeout of its own).
// It does not follow redirects, as aws.HTTPClient asks.
var sharedHTTPClient = &http.Client{
	Transport:     endpoint.Transport(),
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}
