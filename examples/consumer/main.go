// Command consumer is an example client of an EdgeOne multi-path gateway
// that reads its key from SSM and follows the staged rotation of
// mpgw-keyrotator (ROTATION_MODE=staged): it signs with the SSM version
// "current", keeps "pending" preloaded, and on an authentication failure
// re-reads current, then tries pending once. See README.md.
//
// Environment: SSM_SECRET_NAME (required), SSM_REGION (default
// ap-guangzhou), SSM_VERSION_ID (default current), SSM_PENDING_VERSION_ID
// (default pending), SSM_ENDPOINT (optional, e.g. http://127.0.0.1:8080 for
// the emulator), TENCENTCLOUD_SECRETID, TENCENTCLOUD_SECRETKEY and
// TENCENTCLOUD_SESSIONTOKEN, GATEWAY_URL (required), INTERVAL (default 10s).
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("consumer stopped", "error", err.Error())
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	name := os.Getenv("SSM_SECRET_NAME")
	gatewayURL := os.Getenv("GATEWAY_URL")
	if name == "" || gatewayURL == "" {
		return errors.New("SSM_SECRET_NAME and GATEWAY_URL are required")
	}
	client, err := ssmClient(os.Getenv("SSM_REGION"), os.Getenv("SSM_ENDPOINT"))
	if err != nil {
		return err
	}
	interval := 10 * time.Second
	if v := os.Getenv("INTERVAL"); v != "" {
		if interval, err = time.ParseDuration(v); err != nil || interval <= 0 {
			return errors.New("INTERVAL must be a positive duration")
		}
	}
	c := &Consumer{
		Store:          &SSMStore{Client: client, SecretName: name},
		Gateway:        &HTTPGateway{URL: gatewayURL, Client: &http.Client{Timeout: 10 * time.Second}},
		CurrentVersion: os.Getenv("SSM_VERSION_ID"),
		PendingVersion: os.Getenv("SSM_PENDING_VERSION_ID"),
		Logger:         logger,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := c.Load(ctx); err != nil {
		return err
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := c.Do(ctx); err != nil {
			logger.Warn("gateway call failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// ssmClient is a common SDK client for SSM with the credential from the
// environment; endpoint, if set, is a URL such as http://127.0.0.1:8080.
func ssmClient(region, endpoint string) (*common.Client, error) {
	if region == "" {
		region = "ap-guangzhou"
	}
	id, key := os.Getenv("TENCENTCLOUD_SECRETID"), os.Getenv("TENCENTCLOUD_SECRETKEY")
	if id == "" || key == "" {
		return nil, errors.New("TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY are required")
	}
	var cred common.CredentialIface = common.NewCredential(id, key)
	if tok := os.Getenv("TENCENTCLOUD_SESSIONTOKEN"); tok != "" {
		cred = common.NewTokenCredential(id, key, tok)
	}
	cpf := profile.NewClientProfile()
	if endpoint != "" {
		if err := setEndpoint(cpf, endpoint); err != nil {
			return nil, err
		}
	}
	return common.NewCommonClient(cred, region, cpf), nil
}

// setEndpoint points the SDK at a URL: its host:port and its scheme.
func setEndpoint(cpf *profile.ClientProfile, endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return errors.New("SSM_ENDPOINT must be an http(s) URL")
	}
	cpf.HttpProfile.Endpoint = u.Host
	cpf.HttpProfile.Scheme = strings.ToUpper(u.Scheme)
	return nil
}

// HTTPGateway is a placeholder for the application's own request to the
// gateway: a GET signed with HMAC-SHA256 of the timestamp under the
// decoded key. Replace Do with the signing scheme your gateway expects;
// keep returning *AuthError for 401 and 403.
type HTTPGateway struct {
	URL    string
	Client *http.Client
}

func (g *HTTPGateway) Do(ctx context.Context, key secret.Key) error {
	raw, err := base64.StdEncoding.DecodeString(key.Reveal())
	if err != nil {
		return errors.New("the key in SSM is not base64")
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte(ts))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Mpgw-Timestamp", ts)
	req.Header.Set("X-Mpgw-Signature", hex.EncodeToString(mac.Sum(nil)))
	resp, err := g.Client.Do(req)
	if err != nil {
		// *url.Error quotes the whole URL, whose query may hold a token:
		// name the host and keep what it wraps.
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("gateway %s: %w", req.URL.Host, ue.Err)
		}
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &AuthError{Status: resp.StatusCode}
	case resp.StatusCode >= 300:
		return fmt.Errorf("gateway answered %d", resp.StatusCode)
	}
	return nil
}
