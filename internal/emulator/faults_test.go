package emulator

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

const refresh = "RefreshMultiPathGatewaySecretKey"

func TestFaults(t *testing.T) {
	type step struct {
		zone    string
		want    string // error code
		changed bool   // whether the zone's key changes
	}
	tests := []struct {
		name          string
		fault         Fault
		steps         []step
		wantMessage   string // of the first step's error, if set
		wantPerformed int
	}{
		{name: "before: fails, nothing changes",
			fault: Fault{Action: refresh, Code: "InternalError"},
			steps: []step{{zone: "zone-a", want: "InternalError"}}, wantPerformed: 0},
		{name: "after: the key changes, the answer is an error",
			fault: Fault{Action: refresh, Phase: After, Code: "InternalError"},
			steps: []step{{zone: "zone-a", want: "InternalError", changed: true}}, wantPerformed: 1},
		{name: "custom message",
			fault: Fault{Action: refresh, Code: "FailedOperation.Busy", Message: "try later"},
			steps: []step{{zone: "zone-a", want: "FailedOperation.Busy"}}, wantMessage: "try later"},
		{name: "default message",
			fault: Fault{Action: refresh, Code: "InternalError"},
			steps: []step{{zone: "zone-a", want: "InternalError"}}, wantMessage: defaultMessages["InternalError"]},
		{name: "times: the first two calls fail",
			fault: Fault{Action: refresh, Code: "ServiceUnavailable", Times: 2},
			steps: []step{
				{zone: "zone-a", want: "ServiceUnavailable"},
				{zone: "zone-a", want: "ServiceUnavailable"},
				{zone: "zone-a", changed: true},
			}, wantPerformed: 1},
		{name: "times 0: persistent",
			fault: Fault{Action: refresh, Code: "RequestLimitExceeded"},
			steps: []step{
				{zone: "zone-a", want: "RequestLimitExceeded"},
				{zone: "zone-a", want: "RequestLimitExceeded"},
				{zone: "zone-a", want: "RequestLimitExceeded"},
			}},
		{name: "target: only the named zone",
			fault: Fault{Action: refresh, Target: "zone-b", Code: "InternalError"},
			steps: []step{
				{zone: "zone-a", changed: true},
				{zone: "zone-b", want: "InternalError"},
			}, wantPerformed: 1},
		{name: "other actions are not affected",
			fault: Fault{Action: "DescribeMultiPathGatewaySecretKey", Code: "InternalError"},
			steps: []step{{zone: "zone-a", changed: true}}, wantPerformed: 1},
		{name: "drop before: network error, nothing changes",
			fault: Fault{Action: refresh, Drop: true},
			steps: []step{{zone: "zone-a", want: "ClientError.NetworkError"}}},
		{name: "drop after: network error, the key changes",
			fault: Fault{Action: refresh, Phase: After, Drop: true},
			steps: []step{{zone: "zone-a", want: "ClientError.NetworkError", changed: true}}, wantPerformed: 1},
		{name: "HTTP status from a proxy",
			fault: Fault{Action: refresh, HTTPStatus: http.StatusBadGateway},
			steps: []step{{zone: "zone-a", want: "ClientError.ParseJsonError"}}},
		{name: "drop wins over code",
			fault: Fault{Action: refresh, Drop: true, Code: "InternalError"},
			steps: []step{{zone: "zone-a", want: "ClientError.NetworkError"}}},
		{name: "delay only: the call succeeds",
			fault: Fault{Action: refresh, Delay: 20 * time.Millisecond, Times: 1},
			steps: []step{{zone: "zone-a", changed: true}}, wantPerformed: 1},
		{name: "delay then error",
			fault: Fault{Action: refresh, Delay: 20 * time.Millisecond, Code: "InternalError", Phase: After},
			steps: []step{{zone: "zone-a", want: "InternalError", changed: true}}, wantPerformed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{Zones: []string{"zone-a", "zone-b"}})
			f.emu.Inject(tt.fault)
			for i, s := range tt.steps {
				before, _ := f.emu.Key(s.zone)
				start := time.Now()
				_, err := f.call(refresh, map[string]any{"ZoneId": s.zone})
				if elapsed := time.Since(start); elapsed < tt.fault.Delay {
					t.Errorf("step %d took %v, less than the delay %v", i+1, elapsed, tt.fault.Delay)
				}
				if got := errCode(err); got != s.want {
					t.Fatalf("step %d: code %q, want %q (%v)", i+1, got, s.want, err)
				}
				if i == 0 && tt.wantMessage != "" && errMessage(err) != tt.wantMessage {
					t.Errorf("message %q, want %q", errMessage(err), tt.wantMessage)
				}
				if after, _ := f.emu.Key(s.zone); (after != before) != s.changed {
					t.Errorf("step %d: key changed = %v, want %v", i+1, after != before, s.changed)
				}
			}
			if got := f.emu.Calls(refresh); got != len(tt.steps) {
				t.Errorf("Calls = %d, want %d", got, len(tt.steps))
			}
			if got := f.emu.Performed(refresh); got != tt.wantPerformed {
				t.Errorf("Performed = %d, want %d", got, tt.wantPerformed)
			}
		})
	}
}

// TestHTTPStatusFault looks at the raw answer: a bare status and an HTML
// page, no envelope.
func TestHTTPStatusFault(t *testing.T) {
	f := newFixture(t, Options{Zones: []string{"zone-a"}})
	f.emu.Inject(Fault{Action: refresh, HTTPStatus: http.StatusServiceUnavailable})
	var status int
	var contentType, body string
	client := f.client(f.emu.PermanentCredential(), "").WithHttpTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			status, contentType = resp.StatusCode, resp.Header.Get("Content-Type")
			b, _ := io.ReadAll(resp.Body)
			resp.Body = io.NopCloser(strings.NewReader(string(b)))
			body = string(b)
		}
		return resp, err
	}))
	_, err := send(context.Background(), client, refresh, map[string]any{"ZoneId": "zone-a"})
	if err == nil {
		t.Fatal("call succeeded")
	}
	if status != http.StatusServiceUnavailable || contentType != "text/html" || !strings.Contains(body, "503 Service Unavailable") || strings.Contains(body, "Response") {
		t.Errorf("got status %d, content type %q, body %q", status, contentType, body)
	}
}

func TestFaultNeverHidesAuthFailure(t *testing.T) {
	f := newFixture(t, Options{Zones: []string{"zone-a"}})
	f.emu.Inject(Fault{Action: refresh, Code: "InternalError", Times: 1})
	bad := f.emu.PermanentCredential()
	bad.SecretKey = "wrong"
	_, err := send(context.Background(), f.client(bad, ""), refresh, map[string]any{"ZoneId": "zone-a"})
	wantCode(t, err, "AuthFailure.SignatureFailure")
	// The fault is still there for the next authenticated call.
	_, err = f.call(refresh, map[string]any{"ZoneId": "zone-a"})
	wantCode(t, err, "InternalError")
}

func TestFaultsAndRateLimiter(t *testing.T) {
	tests := []struct {
		name      string
		phase     Phase
		wantAfter string // code of the call after the faulted one
	}{
		{name: "before faults do not count against the limit", phase: Before, wantAfter: ""},
		{name: "after faults count against the limit", phase: After, wantAfter: "RequestLimitExceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{Zones: []string{"zone-a"}, TEORateLimit: 1})
			f.emu.Inject(Fault{Action: refresh, Phase: tt.phase, Code: "InternalError", Times: 1})
			_, err := f.call(refresh, map[string]any{"ZoneId": "zone-a"})
			wantCode(t, err, "InternalError")
			_, err = f.call(refresh, map[string]any{"ZoneId": "zone-a"})
			wantCode(t, err, tt.wantAfter)
		})
	}
}

func TestRemoveAndClearFaults(t *testing.T) {
	f := newFixture(t, Options{Zones: []string{"zone-a"}})
	zone := map[string]any{"ZoneId": "zone-a"}
	remove := f.emu.Inject(Fault{Action: refresh, Code: "InternalError"})
	f.emu.Inject(Fault{Action: refresh, Code: "ServiceUnavailable"})

	_, err := f.call(refresh, zone)
	wantCode(t, err, "InternalError") // the first match wins
	remove()
	remove() // harmless
	_, err = f.call(refresh, zone)
	wantCode(t, err, "ServiceUnavailable")
	f.emu.ClearFaults()
	_, err = f.call(refresh, zone)
	wantCode(t, err, "")
}

func TestInjectRejectsInvalidFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
	}{
		{name: "no action", fault: Fault{Code: "InternalError"}},
		{name: "unknown action", fault: Fault{Action: "RefreshKey", Code: "InternalError"}},
		{name: "no effect", fault: Fault{Action: refresh}},
		{name: "negative times", fault: Fault{Action: refresh, Code: "InternalError", Times: -1}},
		{name: "bad status", fault: Fault{Action: refresh, HTTPStatus: 42}},
		{name: "bad phase", fault: Fault{Action: refresh, Code: "InternalError", Phase: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New(Options{})
			defer func() {
				if recover() == nil {
					t.Error("Inject accepted an invalid fault")
				}
			}()
			e.Inject(tt.fault)
		})
	}
}

// recordHandler passes every log record to a channel.
type recordHandler struct{ records chan<- slog.Record }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.records <- r.Clone()
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

// TestDelayHonoursClientCancellation: a client that gives up ends the
// delay, and a Before fault then does no work.
func TestDelayHonoursClientCancellation(t *testing.T) {
	records := make(chan slog.Record, 1)
	f := newFixture(t, Options{Zones: []string{"zone-a"}, Logger: slog.New(recordHandler{records})})
	f.emu.Inject(Fault{Action: refresh, Delay: time.Hour})
	before, _ := f.emu.Key("zone-a")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := send(ctx, f.client(f.emu.PermanentCredential(), ""), refresh, map[string]any{"ZoneId": "zone-a"})
	wantCode(t, err, "ClientError.NetworkError")

	select {
	case r := <-records: // the handler has returned
		var code string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "code" {
				code = a.Value.String()
			}
			return true
		})
		if code != "canceled" {
			t.Errorf("logged code %q, want canceled", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the delay did not end when the client gave up")
	}
	if after, _ := f.emu.Key("zone-a"); after != before || f.emu.Performed(refresh) != 0 || f.emu.Calls(refresh) != 1 {
		t.Errorf("key changed %v, Performed %d, Calls %d; want false, 0, 1", after != before, f.emu.Performed(refresh), f.emu.Calls(refresh))
	}
	// A counted call is in the call log too, with the code it ended with.
	if log := f.emu.CallLog(); len(log) != 1 || log[0].Action != refresh || log[0].Code != "canceled" || log[0].Performed {
		t.Errorf("call log %+v, want the one canceled, unperformed Refresh", log)
	}
}
