package bench

import (
	"archive/zip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
)

func TestMarkdown(t *testing.T) {
	t.Parallel()
	got := Markdown([]Row{
		{"cold start", "6.8ms", ""},
		{"a | b", "line one\nline two", "≤ 1.5"},
	})
	want := "| measurement | value | target |\n" +
		"|---|---|---|\n" +
		"| cold start | 6.8ms |  |\n" +
		`| a \| b | line one line two | ≤ 1.5 |` + "\n"
	if got != want {
		t.Errorf("Markdown =\n%s\nwant\n%s", got, want)
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"none", nil, 0},
		{"one", []time.Duration{7}, 7},
		{"odd, unsorted", []time.Duration{9, 1, 5}, 5},
		{"even: mean of the middle two", []time.Duration{4, 1, 10, 2}, 3},
		{"outlier ignored", []time.Duration{1, 2, 3, 4, time.Hour}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := slices.Clone(tt.in)
			if got := Median(in); got != tt.want {
				t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("Median reordered its input: %v", in)
			}
		})
	}
}

// TestThrottleCounter bursts past TEO's 20 per second: every
// RequestLimitExceeded the client saw is counted, and nothing else.
func TestThrottleCounter(t *testing.T) {
	t.Parallel()
	c, err := startCloud([]string{"zone-bench0001"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	m := newMinimalClient(c.url, c.emu.RoleCredential(), "zone-bench0001")
	const burst = 30
	limited := 0
	for range burst {
		err := send(context.Background(), m.teo, "teo", "2022-09-01", "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-bench0001"}, nil)
		var sdkErr *tcerr.TencentCloudSDKError
		switch {
		case errors.As(err, &sdkErr) && sdkErr.Code == "RequestLimitExceeded":
			limited++
		case err != nil:
			t.Fatal(err)
		}
	}
	if limited == 0 {
		t.Fatalf("no call of %d was rate limited", burst)
	}
	if got := c.throttledCount(); got != limited {
		t.Errorf("counted %d rate-limited answers, the client saw %d", got, limited)
	}
	calls, err := c.calls()
	if err != nil {
		t.Fatal(err)
	}
	if calls["DescribeMultiPathGatewaySecretKey"] != burst {
		t.Errorf("calls = %v, want %d Describe", calls, burst)
	}
}

// TestRunSmoke runs every measurement once or twice on a few zones against a
// binary built from this tree.
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the function binary")
	}
	t.Parallel()
	dir := t.TempDir()
	a := Artifacts{Binary: filepath.Join(dir, "main"), Zip: filepath.Join(dir, "main.zip")}
	build := exec.Command("go", "build", "-o", a.Binary, "github.com/mpgw-keyrotator/mpgw-keyrotator/function")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./function: %v\n%s", err, out)
	}
	writeZip(t, a.Zip, a.Binary)

	var progress strings.Builder
	o := DefaultOptions()
	o.ColdStarts, o.WarmRotations, o.MinimalRounds, o.Zones, o.LargeRuns = 2, 2, 2, 3, 1
	o.Pace, o.Progress = 0, &progress
	rows, err := Run(context.Background(), a, o)
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}
	table := Markdown(rows)
	for _, want := range []string{"cold start", "RefreshMultiPathGatewaySecretKey 1", "UpdateSecret 1", "3 zones", "MiB"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	for _, r := range rows {
		if strings.HasPrefix(r.Measurement, "RequestLimitExceeded") && r.Value != "0" {
			t.Errorf("%s: %s", r.Measurement, r.Value)
		}
	}
}

func writeZip(t *testing.T, path, file string) {
	t.Helper()
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	zw := zip.NewWriter(out)
	// Stored, not deflated: compressing under -race takes seconds.
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "main", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}
