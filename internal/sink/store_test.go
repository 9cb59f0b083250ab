package sink

import (
	"context"
	"errors"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
)

type transient struct{}

func (transient) Error() string   { return "no answer" }
func (transient) Retryable() bool { return true }

func TestConfirmWrite(t *testing.T) {
	key, other := secret.New("the key"), secret.New("another key")
	final := errors.New("refused")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	holds := func(k secret.Key, found bool, err error) Read {
		return func() (secret.Key, bool, error) { return k, found, err }
	}
	tests := []struct {
		name  string
		ctx   context.Context
		err   error
		read  Read
		want  error
		reads bool
	}{
		{name: "success is not read back", ctx: context.Background(), read: holds(key, true, nil)},
		{name: "a final error is not read back", ctx: context.Background(), err: final, read: holds(key, true, nil), want: final},
		{name: "out of time: not read back", ctx: canceled, err: transient{}, read: holds(key, true, nil), want: transient{}},
		{name: "lost answers, the key in place", ctx: context.Background(), err: transient{}, read: holds(key, true, nil), reads: true},
		{name: "lost answers, another key", ctx: context.Background(), err: transient{}, read: holds(other, true, nil), want: transient{}, reads: true},
		{name: "lost answers, nothing there", ctx: context.Background(), err: transient{}, read: holds(secret.Key{}, false, nil), want: transient{}, reads: true},
		{name: "lost answers, the read fails", ctx: context.Background(), err: transient{}, read: holds(key, true, final), want: transient{}, reads: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			read := false
			got := ConfirmWrite(tc.ctx, tc.err, key, func() (secret.Key, bool, error) { read = true; return tc.read() })
			if got != tc.want || read != tc.reads {
				t.Errorf("ConfirmWrite = %v (read %v), want %v (read %v)", got, read, tc.want, tc.reads)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	key := secret.New("the key")
	rec := Record{RotationID: "r", State: Done}
	readErr, descErr, unusable := errors.New("read failed"), errors.New("describe failed"), errors.New("disabled: enable it")
	read := func(found bool, err error) Read {
		return func() (secret.Key, bool, error) {
			if !found {
				return secret.Key{}, false, err
			}
			return key, true, err
		}
	}
	describe := func(m Metadata, err error) func() (Metadata, error) {
		return func() (Metadata, error) { return m, err }
	}
	tests := []struct {
		name      string
		read      Read
		describe  func() (Metadata, error)
		want      Holding
		wantFound bool
		wantErr   error
	}{
		{name: "secret with key and record", read: read(true, nil), describe: describe(Metadata{Exists: true, Record: rec.Encode()}, nil),
			want: Holding{Exists: true, Key: key, Record: &rec}, wantFound: true},
		{name: "version missing, text without a record", read: read(false, nil), describe: describe(Metadata{Exists: true, Record: "edited"}, nil),
			want: Holding{Exists: true}},
		{name: "no secret", read: read(false, nil), describe: describe(Metadata{}, nil)},
		{name: "unusable before the read's error", read: read(false, readErr), describe: describe(Metadata{Exists: true, Unusable: unusable}, nil),
			wantErr: unusable},
		{name: "read error", read: read(false, readErr), describe: describe(Metadata{Exists: true}, nil), wantErr: readErr},
		{name: "describe error", read: read(true, nil), describe: describe(Metadata{}, descErr), wantErr: descErr},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, found, err := Inspect(tc.read, tc.describe)
			if err != tc.wantErr || found != tc.wantFound || h.Exists != tc.want.Exists || !h.Key.Equal(tc.want.Key) ||
				(h.Record == nil) != (tc.want.Record == nil) || h.Record != nil && h.Record.RotationID != tc.want.Record.RotationID {
				t.Errorf("Inspect = %+v, %v, %v; want %+v, %v, %v", h, found, err, tc.want, tc.wantFound, tc.wantErr)
			}
		})
	}
}
