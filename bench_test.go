package keyrotator_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

// BenchmarkRotate measures one rotation of n zones against the emulator
// with both sinks, end to end through the SDK's signing and the emulator's
// verification. "documented limits" keeps TEO's 20/s per action (what a
// real run is bound by); "TEO unthrottled" lifts the TEO limits to show the
// function's own cost (SSM's documented limits still apply).
func BenchmarkRotate(b *testing.B) {
	for _, limits := range []string{"documented limits", "TEO unthrottled"} {
		for _, n := range []int{1, 10, 50} {
			b.Run(fmt.Sprintf("%s/%d zones", limits, n), func(b *testing.B) {
				opts := []testkit.Option{testkit.WithWebhook()}
				if limits == "TEO unthrottled" {
					opts = append(opts, testkit.WithEmulator(emulator.Options{TEORateLimit: -1}),
						testkit.WithEnv(map[string]string{"TEO_RATE_LIMIT": "1000"}))
				}
				c := testkit.NewCloud(b, zoneIDs(n), opts...)
				h := handlerkit.New(c)
				h.Tuning.Workers = 8
				b.ResetTimer()
				for b.Loop() {
					rep, err := h.Run(context.Background(), rotate.Request{Action: rotate.Rotate})
					if err != nil || !rep.OK {
						b.Fatalf("%v %v", err, rep.Err())
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "zones/s")
			})
		}
	}
}
