package emulator

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
)

// The control surface lets scripts outside the process inspect and steer the
// emulator. It has no authentication: serve it on loopback only.
//
//	GET    /_emulator/state   zones, secrets (SSM, and AWS as awsSecrets) and
//	                          counters (calls, performed, throttled); keys
//	                          and secret values appear only as fingerprints
//	POST   /_emulator/faults  inject a Fault given as JSON (field names as in
//	                          Fault, any case); "phase" is "before" or
//	                          "after", "delay" a Go duration string ("1.5s")
//	                          or a number of milliseconds
//	DELETE /_emulator/faults  remove every fault
//	POST   /_emulator/zones   {"zoneId": "...", "withoutKey": false} adds a
//	                          zone with a fresh key (or none)
func (e *Emulator) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_emulator/state", e.handleState)
	mux.HandleFunc("POST /_emulator/faults", e.handleInjectFault)
	mux.HandleFunc("DELETE /_emulator/faults", func(w http.ResponseWriter, _ *http.Request) {
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_emulator/zones", e.handleAddZone)
	return mux
}

type zoneView struct {
	ZoneID         string `json:"zoneId"`
	KeyFingerprint string `json:"keyFingerprint"` // "" when the zone has no key
}

type versionView struct {
	VersionID   string    `json:"versionId"`
	Fingerprint string    `json:"fingerprint"`
	Binary      bool      `json:"binary"`
	Created     time.Time `json:"created"`
}

type awsVersionView struct {
	VersionID   string    `json:"versionId"`
	Fingerprint string    `json:"fingerprint"`
	Stages      []string  `json:"stages"`
	Created     time.Time `json:"created"`
}

// secretView shows an SSM secret (V versionView) or an AWS one (V
// awsVersionView). The fields of the other kind stay out: an SSM secret has
// no ARN and an AWS one no Status or DeleteTime, while every SSM secret has
// a Status and every AWS secret an ARN.
type secretView[V versionView | awsVersionView] struct {
	Region      string            `json:"region"`
	Name        string            `json:"name"`
	ARN         string            `json:"arn,omitempty"`
	Description string            `json:"description"`
	Status      string            `json:"status,omitempty"`
	Tags        map[string]string `json:"tags"`
	Created     time.Time         `json:"created"`
	DeleteTime  time.Time         `json:"deleteTime,omitzero"`
	DeletedDate time.Time         `json:"deletedDate,omitzero"`
	Versions    []V               `json:"versions"`
}

type stateView struct {
	Zones      []zoneView                   `json:"zones"`
	Secrets    []secretView[versionView]    `json:"secrets"`
	AWSSecrets []secretView[awsVersionView] `json:"awsSecrets"`
	Calls      map[string]int               `json:"calls"`
	Performed  map[string]int               `json:"performed"`
	Throttled  int                          `json:"throttled"`
}

func (e *Emulator) handleState(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	zones := make([]zoneView, 0, len(e.zones))
	for _, id := range slices.Sorted(maps.Keys(e.zones)) {
		zones = append(zones, zoneView{ZoneID: id, KeyFingerprint: secret.Fingerprint(e.zones[id])})
	}
	calls, performed, throttled := maps.Clone(e.calls), maps.Clone(e.performed), e.throttled
	e.mu.Unlock()

	secrets := []secretView[versionView]{}
	for _, s := range e.allSecrets() {
		v := secretView[versionView]{
			Region: s.Region, Name: s.Name, Description: s.Description, Status: s.Status,
			Tags: s.Tags, Created: s.Created, DeleteTime: s.DeleteTime,
			Versions: make([]versionView, len(s.Versions)),
		}
		for i, ver := range s.Versions {
			v.Versions[i] = versionView{VersionID: ver.ID, Fingerprint: secret.Fingerprint(ver.Value), Binary: ver.Binary, Created: ver.Created}
		}
		secrets = append(secrets, v)
	}
	awsSecrets := []secretView[awsVersionView]{}
	for _, s := range e.allAWSSecrets() {
		v := secretView[awsVersionView]{
			Region: s.Region, Name: s.Name, ARN: s.ARN, Description: s.Description, Tags: s.Tags,
			Created: s.Created, DeletedDate: s.DeletedDate, Versions: make([]awsVersionView, len(s.Versions)),
		}
		for i, ver := range s.Versions {
			v.Versions[i] = awsVersionView{VersionID: ver.ID, Fingerprint: secret.Fingerprint(ver.Value), Stages: ver.Stages, Created: ver.Created}
		}
		awsSecrets = append(awsSecrets, v)
	}
	writeControlJSON(w, http.StatusOK, stateView{
		Zones: zones, Secrets: secrets, AWSSecrets: awsSecrets,
		Calls: calls, Performed: performed, Throttled: throttled,
	})
}

// milliseconds decodes a delay given as a Go duration string or as a number
// of milliseconds.
type milliseconds time.Duration

func (d *milliseconds) UnmarshalJSON(b []byte) error {
	var ms float64
	if err := json.Unmarshal(b, &ms); err == nil {
		*d = milliseconds(ms * float64(time.Millisecond))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`delay must be a duration string such as "250ms" or a number of milliseconds`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New(`delay must be a duration string such as "250ms" or a number of milliseconds`)
	}
	*d = milliseconds(v)
	return nil
}

func (e *Emulator) handleInjectFault(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Fault
		Delay milliseconds // shadows Fault.Delay, which would decode as nanoseconds
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, "invalid fault: "+err.Error(), http.StatusBadRequest)
		return
	}
	f := req.Fault
	f.Delay = time.Duration(req.Delay)
	if err := f.validate(e.endpoints); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e.Inject(f)
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) handleAddZone(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ZoneID     string `json:"zoneId"`
		WithoutKey bool   `json:"withoutKey"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.ZoneID == "" {
		http.Error(w, `body must be {"zoneId": "...", "withoutKey": false}`, http.StatusBadRequest)
		return
	}
	if req.WithoutKey {
		e.AddZoneWithoutKey(req.ZoneID)
	} else {
		e.AddZone(req.ZoneID)
	}
	key, _ := e.Key(req.ZoneID)
	writeControlJSON(w, http.StatusCreated, zoneView{ZoneID: req.ZoneID, KeyFingerprint: secret.Fingerprint(key)})
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
