package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
)

// minimalCalls is how many API calls one minimal rotation makes.
const minimalCalls = 3

// minimalClient is the least a rotation of one zone into SSM needs, on the
// common SDK with one kept-alive client per service: the yardstick the
// function is compared with.
type minimalClient struct {
	teo, ssm *common.Client
	zone     string
	secret   string
}

func newMinimalClient(baseURL string, role emulator.Credential, zone string) *minimalClient {
	transport := &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	client := func(region string) *common.Client {
		cpf := profile.NewClientProfile()
		cpf.HttpProfile.Endpoint = strings.TrimPrefix(baseURL, "http://")
		cpf.HttpProfile.Scheme = "HTTP"
		cpf.RateLimitExceededMaxRetries = 0
		cpf.NetworkFailureMaxRetries = 0
		cred := common.NewTokenCredential(role.SecretID, role.SecretKey, role.Token)
		return common.NewCommonClient(cred, region, cpf).WithHttpTransport(transport)
	}
	return &minimalClient{
		teo:    client(""),
		ssm:    client(region),
		zone:   zone,
		secret: strings.ReplaceAll(secretName, "{zone}", zone),
	}
}

// rotate refreshes the key, writes it to the secret's version and reads the
// live key back: Refresh, UpdateSecret, Describe.
func (m *minimalClient) rotate(ctx context.Context) error {
	var refreshed struct{ SecretKey string }
	if err := send(ctx, m.teo, "teo", "2022-09-01", "RefreshMultiPathGatewaySecretKey", map[string]any{"ZoneId": m.zone}, &refreshed); err != nil {
		return err
	}
	update := map[string]any{"SecretName": m.secret, "VersionId": versionID, "SecretString": refreshed.SecretKey}
	if err := send(ctx, m.ssm, "ssm", "2019-09-23", "UpdateSecret", update, nil); err != nil {
		return err
	}
	var live struct{ SecretKey string }
	if err := send(ctx, m.teo, "teo", "2022-09-01", "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": m.zone}, &live); err != nil {
		return err
	}
	if live.SecretKey != refreshed.SecretKey {
		return errors.New("minimal client: the live key is not the one refreshed")
	}
	return nil
}

// send calls action and decodes the inside of the Response envelope into out
// (nil: ignored).
func send(ctx context.Context, client *common.Client, service, version, action string, params map[string]any, out any) error {
	req := tchttp.NewCommonRequest(service, version, action)
	req.SetContext(ctx)
	if err := req.SetActionParameters(params); err != nil {
		return fmt.Errorf("minimal client: %s parameters: %w", action, err)
	}
	resp := tchttp.NewCommonResponse()
	if err := client.Send(req, resp); err != nil {
		return fmt.Errorf("minimal client: %s: %w", action, err)
	}
	if out == nil {
		return nil
	}
	var envelope struct{ Response json.RawMessage }
	if err := json.Unmarshal(resp.GetBody(), &envelope); err != nil {
		return fmt.Errorf("minimal client: %s answer: %w", action, err)
	}
	if err := json.Unmarshal(envelope.Response, out); err != nil {
		return fmt.Errorf("minimal client: %s answer: %w", action, err)
	}
	return nil
}
