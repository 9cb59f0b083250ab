package keyrotator_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

// secretsManagerActionsUsed are the Secrets Manager actions the function
// calls, read from the emulator's counters after every kind of work the AWS
// sink does: a first rotation (the secret is created), a steady one, a sync
// of a sink that drifted, a check, in both rotation modes, and reading the
// Tencent credentials.
func secretsManagerActionsUsed(t *testing.T) []string {
	t.Helper()
	c := testkit.NewCloud(t, allowedZones, testkit.WithAWS(), testkit.WithoutSSM())
	h := handlerkit.New(c)
	for _, mode := range []string{"refresh", "staged"} {
		_ = c.Setenv("ROTATION_MODE", mode)
		for _, req := range []rotate.Request{{Action: rotate.Rotate}, {Action: rotate.Rotate}, {Action: rotate.Check}} {
			if rep, err := h.Run(t.Context(), req); err != nil || !rep.OK {
				t.Fatalf("%s mode, %s: %v %s", mode, req.Action, err, reportJSON(t, rep))
			}
		}
	}
	c.Emu.AddZone(zoneAlpha) // the console changed the key: sync writes it
	if rep, err := h.Run(t.Context(), rotate.Request{Action: rotate.Sync}); err != nil || !rep.OK {
		t.Fatalf("sync: %v %s", err, reportJSON(t, rep))
	}
	// Every AWS action the emulator served, whatever it is: a new call can
	// never be missed.
	used := c.AWSActions()
	return used // GetSecretValue covers TENCENTCLOUD_CREDENTIALS_SECRET's read too
}

// openTemplate parses template.yaml with goformation, resolving Ref to the
// parameters' defaults (or overrides) and AWS::Region / AWS::AccountId to
// goformation's placeholders (us-east-1, 123456789012).
func openTemplate(t *testing.T, overrides map[string]any) *serverless.Function {
	t.Helper()
	tmpl, err := goformation.OpenWithOptions("template.yaml", &intrinsics.ProcessorOptions{ParameterOverrides: overrides})
	if err != nil {
		t.Fatalf("goformation: %v", err)
	}
	fns := tmpl.GetAllServerlessFunctionResources()
	if len(fns) != 1 {
		t.Fatalf("%d AWS::Serverless::Function resources, want 1", len(fns))
	}
	fn, err := tmpl.GetServerlessFunctionWithName("KeyRotator")
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

type statement struct {
	Effect   string
	Action   any // a string or a list
	Resource any
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func TestSAMTemplate(t *testing.T) {
	t.Parallel()
	fn := openTemplate(t, nil)
	if fn.Runtime == nil || *fn.Runtime != "provided.al2023" {
		t.Errorf("Runtime %v, want provided.al2023", fn.Runtime)
	}
	if fn.Handler == nil || *fn.Handler != "bootstrap" {
		t.Errorf("Handler %v, want bootstrap", fn.Handler)
	}
	if !slices.Equal(fn.Architectures, []string{"arm64"}) {
		t.Errorf("Architectures %v, want the Architecture parameter, default arm64", fn.Architectures)
	}
	if fn.CodeUri == nil || fn.CodeUri.String == nil || *fn.CodeUri.String != "dist/bootstrap-arm64.zip" {
		t.Errorf("CodeUri %+v, want dist/bootstrap-arm64.zip", fn.CodeUri)
	}
	x86 := openTemplate(t, map[string]any{"Architecture": "x86_64"})
	if !slices.Equal(x86.Architectures, []string{"x86_64"}) || x86.CodeUri == nil || x86.CodeUri.String == nil || *x86.CodeUri.String != "dist/bootstrap-amd64.zip" {
		t.Errorf("Architecture=x86_64: Architectures %v, CodeUri %+v, want x86_64 and dist/bootstrap-amd64.zip", x86.Architectures, x86.CodeUri)
	}
	if fn.ReservedConcurrentExecutions == nil || *fn.ReservedConcurrentExecutions != 1 {
		t.Errorf("ReservedConcurrentExecutions %v, want 1", fn.ReservedConcurrentExecutions)
	}
	if fn.Timeout == nil || *fn.Timeout != 60 {
		t.Errorf("Timeout %v, want the TimeoutSeconds parameter, default 60", fn.Timeout)
	}

	// The two events: a daily EventBridge schedule and the HTTP API.
	if len(fn.Events) != 2 {
		t.Errorf("%d events, want 2", len(fn.Events))
	}
	var schedule, httpAPI bool
	for name, ev := range fn.Events {
		switch {
		case ev.Type == "Schedule" && ev.Properties != nil && ev.Properties.ScheduleEvent != nil:
			schedule = true
			if s := ev.Properties.ScheduleEvent.Schedule; s != "cron(0 3 * * ? *)" {
				t.Errorf("%s: schedule %q", name, s)
			}
		case ev.Type == "HttpApi" && ev.Properties != nil && ev.Properties.HttpApiEvent != nil:
			httpAPI = true
			e := ev.Properties.HttpApiEvent
			if e.Path == nil || *e.Path != "/{proxy+}" || e.Method == nil || !strings.EqualFold(*e.Method, "ANY") {
				t.Errorf("%s: HttpApi %v %v, want ANY /{proxy+}", name, e.Method, e.Path)
			}
		default:
			t.Errorf("event %s of type %s", name, ev.Type)
		}
	}
	if !schedule || !httpAPI {
		t.Errorf("events: schedule %v, HttpApi %v; want both", schedule, httpAPI)
	}

	if fn.Environment == nil {
		t.Fatal("no Environment")
	}
	env := fn.Environment.Variables
	for k, want := range map[string]string{
		"AWS_SECRET_ID": "mpgw-key-{zone}", "TENCENTCLOUD_CREDENTIALS_SECRET": "mpgw-keyrotator/tencentcloud",
		"TEO_ENDPOINT": "teo.tencentcloudapi.com", "DELIVERY_WINDOW": "5s", "TRIGGER_TOKEN": "", "TRIGGER_SECRET": "",
	} {
		if got, ok := env[k]; !ok || got != want {
			t.Errorf("Environment %s = %q (set %v), want %q", k, got, ok, want)
		}
	}
	if _, ok := env["ZONE_IDS"]; !ok {
		t.Errorf("Environment lacks ZONE_IDS")
	}

	// The policy: exactly the sink's actions, every resource a named secret.
	if fn.Policies == nil || fn.Policies.IAMPolicyDocumentArray == nil {
		t.Fatalf("Policies %+v, want a list of policy documents", fn.Policies)
	}
	var actions []string
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
	for _, doc := range *fn.Policies.IAMPolicyDocumentArray {
		b, _ := json.Marshal(doc.Statement)
		var stmts []statement
		if err := json.Unmarshal(b, &stmts); err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			if s.Effect != "Allow" {
				t.Errorf("statement effect %q", s.Effect)
			}
			resources := strs(s.Resource)
			if len(resources) == 0 {
				t.Errorf("statement %v without a resource", s.Action)
			}
			for _, r := range resources {
				if r == "*" || !strings.HasPrefix(r, arn) || strings.TrimPrefix(r, arn) == "*" {
					t.Errorf("resource %q is not scoped to named secrets", r)
				}
			}
			for _, a := range strs(s.Action) {
				if strings.Contains(a, "*") {
					t.Errorf("wildcard action %q", a)
				}
				// Only the credentials secret is readable beyond the zones' ones.
				if !slices.Equal(resources, []string{arn + "mpgw-key-*"}) &&
					(a != "secretsmanager:GetSecretValue" || !slices.Equal(resources, []string{arn + "mpgw-keyrotator/tencentcloud-??????"})) {
					t.Errorf("action %s on %v", a, resources)
				}
				actions = append(actions, a)
			}
		}
	}
	slices.Sort(actions)
	if got, want := slices.Compact(actions), secretsManagerActionsUsed(t); !slices.Equal(got, want) {
		t.Errorf("policy actions %v, want exactly the actions used: %v", got, want)
	}
}
