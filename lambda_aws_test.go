package keyrotator_test

// The function on AWS: events through aws-lambda-go's own handler
// (Handler.LambdaHandler, what lambda.Start serves), keys delivered to the
// emulated AWS Secrets Manager.

import (
	"context"
	"strings"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

// awsCloud is a cloud whose only durable sink is AWS Secrets Manager, as a
// team keeping its secrets in AWS would deploy it.
func awsCloud(t *testing.T, env map[string]string) *testkit.Cloud {
	t.Helper()
	return testkit.NewCloud(t, allowedZones, testkit.WithAWS(), testkit.WithoutSSM(), testkit.WithEnv(env))
}

// awsSecrets are the values no output may contain: the AWS keys and every
// key the cloud holds.
func awsSecrets(c *testkit.Cloud) []string {
	cred := c.Emu.AWSCredential()
	return append(c.Keys(allowedZones), cred.SecretAccessKey, cred.SessionToken)
}

// TestLambdaEventsDeliverToAWS sends each AWS event type through
// aws-lambda-go with a 15 s deadline and the production settings: the
// answer has the event's own response shape, and each zone's secret holds
// the live key as AWSCURRENT and the key it replaced as AWSPREVIOUS.
func TestLambdaEventsDeliverToAWS(t *testing.T) {
	t.Parallel()
	const token = "aws-trigger-token"
	post := func(shape awsShape) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			h, _ := authHeaders(t, bearer, token, "", nil)
			return shape.build(t, "POST", "/rotate", h, nil)
		}
	}
	entries := []struct {
		name  string
		event func(t *testing.T) []byte
		shape *awsShape // HTTP events
	}{
		{name: "EventBridge schedule", event: func(t *testing.T) []byte { return readFixture(t, "eventbridge.json") }},
		{name: "direct", event: func(t *testing.T) []byte { return []byte(`{"action":"rotate","rotationId":"aws-direct"}`) }},
	}
	for i := range awsShapes {
		entries = append(entries, struct {
			name  string
			event func(t *testing.T) []byte
			shape *awsShape
		}{name: awsShapes[i].name, event: post(awsShapes[i]), shape: &awsShapes[i]})
	}
	for _, e := range entries {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			// A first rotation runs just before: no MIN_ROTATION_INTERVAL here.
			c := awsCloud(t, map[string]string{"TRIGGER_TOKEN": token, "MIN_ROTATION_INTERVAL": "0"})
			h := productionHandler(c)
			if rep, err := h.Run(t.Context(), rotate.Request{Action: rotate.Rotate, RotationID: "first"}); err != nil || !rep.OK {
				t.Fatalf("first rotation: %v %s", err, reportJSON(t, rep))
			}
			before := map[string]string{}
			for _, z := range allowedZones {
				before[z] = c.Live(z)
			}
			out, err := h.LambdaHandler().Invoke(lambdaContext(t, "req-"+strings.ReplaceAll(e.name, " ", "-"), realisticDeadline), e.event(t))
			if err != nil {
				t.Fatalf("invocation error: %v", err)
			}
			body := out
			if e.shape != nil {
				assertAWSResponse(t, *e.shape, out, 200)
				body = []byte(e.shape.decode(t, out).Body)
			}
			rep := decodeReport(t, body)
			for _, z := range allowedZones {
				live := c.Live(z)
				if got := outcomes(rep)[z]; got != rotate.Rotated || live == before[z] {
					t.Errorf("%s: %s, key changed %v", z, got, live != before[z])
				}
				if cur, prev := c.AWSStaged(z, emulator.StageCurrent), c.AWSStaged(z, emulator.StagePrevious); cur != live || prev != before[z] {
					t.Errorf("%s: AWSCURRENT %s AWSPREVIOUS %s, want live %s and the replaced %s", z, secret.Fingerprint(cur),
						secret.Fingerprint(prev), secret.Fingerprint(live), secret.Fingerprint(before[z]))
				}
			}
			testkit.AssertNoLeak(t, awsSecrets(c), string(out), c.Logs.String())
		})
	}
}

// TestLambdaLostPutAnswerMakesOneVersion: PutSecretValue's answer is lost
// once; the retry carries the same ClientRequestToken, so the rotation adds
// exactly one version per zone.
func TestLambdaLostPutAnswerMakesOneVersion(t *testing.T) {
	t.Parallel()
	c := awsCloud(t, nil)
	h := productionHandler(c)
	if rep, err := h.Run(t.Context(), rotate.Request{Action: rotate.Rotate, RotationID: "first"}); err != nil || !rep.OK {
		t.Fatalf("first rotation: %v %s", err, reportJSON(t, rep))
	}
	versions := func(zone string) int {
		s, _ := c.Emu.AWSSecret(testkit.AWSRegion, c.AWSName(zone))
		return len(s.Versions)
	}
	before := versions(zoneAlpha)
	c.Emu.Inject(emulator.Fault{Action: "secretsmanager.PutSecretValue", Target: c.AWSName(zoneAlpha), Phase: emulator.After,
		Code: "InternalServiceError", Times: 1})
	out, err := h.LambdaHandler().Invoke(lambdaContext(t, "req-lost", realisticDeadline), []byte(`{"action":"rotate","zones":["zone-alpha"]}`))
	if err != nil {
		t.Fatalf("invocation error: %v", err)
	}
	if rep := decodeReport(t, out); !rep.OK {
		t.Fatalf("report %s", out)
	}
	if got := versions(zoneAlpha); got != before+1 {
		t.Errorf("%d versions after one rotation, want %d", got, before+1)
	}
	if got := c.Emu.Calls("secretsmanager.PutSecretValue"); got < 3 { // first rotation's, the lost one, its retry
		t.Errorf("PutSecretValue called %d times: the lost answer was not retried", got)
	}
	if c.AWSStaged(zoneAlpha, emulator.StageCurrent) != c.Live(zoneAlpha) {
		t.Error("AWSCURRENT is not the live key")
	}
}

// TestLambdaRedeliveredScheduleRefreshesNothing: EventBridge delivers the
// same scheduled event again, to a fresh instance; the record in the
// secret's tags tells it the rotation happened, so nothing is refreshed.
func TestLambdaRedeliveredScheduleRefreshesNothing(t *testing.T) {
	t.Parallel()
	c := awsCloud(t, nil)
	event := readFixture(t, "eventbridge.json")
	if _, err := productionHandler(c).LambdaHandler().Invoke(lambdaContext(t, "req-1", realisticDeadline), event); err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	refreshes := c.Emu.Performed(actionRefresh)
	if refreshes != len(allowedZones) {
		t.Fatalf("%d refreshes for %d zones", refreshes, len(allowedZones))
	}
	out, err := productionHandler(c).LambdaHandler().Invoke(lambdaContext(t, "req-2", realisticDeadline), event)
	if err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if got := c.Emu.Performed(actionRefresh); got != refreshes {
		t.Errorf("the redelivered event refreshed %d more", got-refreshes)
	}
	rep := decodeReport(t, out)
	for _, z := range allowedZones {
		if outcomes(rep)[z] != rotate.Rotated || c.AWSStaged(z, emulator.StageCurrent) != c.Live(z) {
			t.Errorf("%s: %s, AWSCURRENT live %v", z, outcomes(rep)[z], c.AWSStaged(z, emulator.StageCurrent) == c.Live(z))
		}
	}
}

// TestTencentCredentialsFromAWSSecret: on AWS the Tencent credentials come
// from the secret TENCENTCLOUD_CREDENTIALS_SECRET names; they never appear
// in any output.
func TestTencentCredentialsFromAWSSecret(t *testing.T) {
	t.Parallel()
	c := awsCloud(t, nil)
	role := c.Emu.RoleCredential()
	c.Emu.PutAWSSecret(emulator.AWSSecretState{Region: testkit.AWSRegion, Name: "tencent/credentials",
		Versions: []emulator.AWSVersion{{ID: "v1", Stages: []string{emulator.StageCurrent},
			Value: `{"secretId":"` + role.SecretID + `","secretKey":"` + role.SecretKey + `","token":"` + role.Token + `"}`}}})
	for _, v := range []string{"TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"} {
		_ = c.Setenv(v, "")
	}
	_ = c.Setenv("TENCENTCLOUD_CREDENTIALS_SECRET", "tencent/credentials")
	ctx, cancel := context.WithTimeout(t.Context(), realisticDeadline)
	defer cancel()
	rep, err := productionHandler(c).Run(ctx, rotate.Request{Action: rotate.Rotate})
	if err != nil || !rep.OK {
		t.Fatalf("rotation: %v %s", err, reportJSON(t, rep))
	}
	testkit.AssertNoLeak(t, append(awsSecrets(c), role.SecretKey, role.Token), reportJSON(t, rep), c.Logs.String())

	_ = c.Setenv("TENCENTCLOUD_CREDENTIALS_SECRET", "tencent/missing")
	if _, err := productionHandler(c).Run(ctx, rotate.Request{Action: rotate.Rotate}); err == nil ||
		!strings.Contains(err.Error(), "TENCENTCLOUD_CREDENTIALS_SECRET") {
		t.Errorf("a missing credentials secret: %v, want an error naming TENCENTCLOUD_CREDENTIALS_SECRET", err)
	}
}
