// Package config turns the environment into a validated Config: every
// variable the function reads is named here, and every problem is reported at
// once, naming the variable, before any API is called. It also resolves the
// {zone} template of secret names (ForZone) and parses endpoints.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/stdwebhook"
)

// Defaults, as README's Configuration table documents them.
const (
	DefaultTEOEndpoint  = "teo.tencentcloudapi.com"
	DefaultSSMEndpoint  = "ssm.tencentcloudapi.com"
	DefaultSTSEndpoint  = "sts.tencentcloudapi.com"
	DefaultSSMVersionID = "current"
	// DefaultSSMPendingVersionID is the version a staged rotation holds the
	// next key in until it is promoted (ROTATION_MODE=staged).
	DefaultSSMPendingVersionID = "pending"
	// DefaultTEORateLimit is the documented limit of every TEO key API.
	DefaultTEORateLimit = 20
	// DefaultDeliveryWindow is the time left before the deadline a zone needs
	// to be refreshed: one attempt of each delivery step.
	DefaultDeliveryWindow = 5 * time.Second
	// DefaultMinRotationInterval is the shortest time between two HTTP-triggered
	// rotations of a zone: a leaked trigger token churns a key at most this often.
	DefaultMinRotationInterval = 10 * time.Minute
	// ZonePlaceholder is replaced by the zone id in secret names (ForZone).
	ZonePlaceholder = "{zone}"
)

// ForZone is the secret name or id template names for zone: every
// ZonePlaceholder replaced by the zone id. Config, the sinks and the tests
// all resolve names through it.
func ForZone(template, zone string) string {
	return strings.ReplaceAll(template, ZonePlaceholder, zone)
}

// Config is the validated configuration of one function instance.
type Config struct {
	Zones        []string // the allow-list, in configured order, without duplicates
	TEO          endpoint.Endpoint
	TEORateLimit float64
	// DeliveryWindow: a zone is refreshed only with this much time left.
	DeliveryWindow time.Duration
	// MinRotationInterval refuses an HTTP-triggered rotate of a zone rotated
	// more recently (0 = off).
	MinRotationInterval time.Duration
	// MaxKeyAge makes check report a zone last rotated longer ago as stale
	// (0 = off).
	MaxKeyAge time.Duration
	// Staged is ROTATION_MODE=staged: the function makes the key, stores it
	// as pending, then makes it live (Modify); false is refresh.
	Staged bool

	SSM     *SSM     // nil: SSM sink off
	AWS     *AWS     // nil: AWS Secrets Manager sink off
	Webhook *Webhook // nil: webhook sink off

	// TencentCredentialsSecret names an AWS secret holding the Tencent
	// Cloud credentials (on AWS, where no Tencent role exists); "" = none.
	TencentCredentialsSecret string

	TriggerToken  string
	TriggerSecret string

	RoleARN string
	STS     endpoint.Endpoint
	Region  string // TENCENTCLOUD_REGION, the function's own region

	LogLevel slog.Level
}

// SSM configures the Tencent Secrets Manager sink.
type SSM struct {
	SecretName string // may hold {zone}
	VersionID  string
	// PendingVersionID holds the next key of a staged rotation until it is
	// promoted to VersionID; never equal to VersionID.
	PendingVersionID string
	Region           string
	Endpoint         endpoint.Endpoint
}

// SecretNameFor is the secret that holds zone's key.
func (s SSM) SecretNameFor(zone string) string {
	return ForZone(s.SecretName, zone)
}

// AWS configures the AWS Secrets Manager sink. Region, credentials and the
// endpoint come from the AWS SDK's standard variables (AWS_REGION,
// AWS_ACCESS_KEY_ID…, AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL).
type AWS struct {
	SecretID string // a name or an ARN; may hold {zone}
}

// SecretIDFor is the AWS secret that holds zone's key.
func (a AWS) SecretIDFor(zone string) string {
	return ForZone(a.SecretID, zone)
}

// Webhook configures the signed webhook sink.
type Webhook struct {
	URL        *url.URL
	Secret     string // whsec_…
	IncludeKey bool
}

// Error lists every configuration problem found.
type Error struct {
	Problems []Problem
	Cause    error // the underlying error, when one problem wraps one
}

func (e *Error) Unwrap() error { return e.Cause }

// Problem is one variable and what is wrong with it.
type Problem struct{ Var, Msg string }

func (p Problem) Error() string { return p.Var + ": " + p.Msg }

func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return "configuration: " + strings.Join(msgs, "; ")
}

// IsConfigError reports whether err is (or wraps) a configuration error.
func IsConfigError(err error) bool {
	var ce *Error
	return errors.As(err, &ce)
}

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (Config, error) {
	l := loader{getenv: getenv}
	var c Config
	c.Zones = l.zones("ZONE_IDS")
	c.TEO = l.endpoint("TEO_ENDPOINT", DefaultTEOEndpoint)
	c.TEORateLimit = l.rate("TEO_RATE_LIMIT", DefaultTEORateLimit)
	c.DeliveryWindow = l.duration("DELIVERY_WINDOW", DefaultDeliveryWindow, 100*time.Millisecond, 15*time.Minute)
	c.MinRotationInterval = l.duration("MIN_ROTATION_INTERVAL", DefaultMinRotationInterval, 0, 366*24*time.Hour)
	c.MaxKeyAge = l.keyAge("MAX_KEY_AGE")
	c.Region = strings.TrimSpace(getenv("TENCENTCLOUD_REGION"))
	c.TriggerToken = getenv("TRIGGER_TOKEN")
	c.TriggerSecret = getenv("TRIGGER_SECRET")
	if c.TriggerSecret != "" {
		l.whsec("TRIGGER_SECRET", c.TriggerSecret)
	}
	c.RoleARN = strings.TrimSpace(getenv("ROLE_ARN"))
	if c.RoleARN != "" && !roleARN.MatchString(c.RoleARN) {
		l.fail("ROLE_ARN", "want qcs::cam::uin/<uin>:roleName/<name> or qcs::cam::uin/<uin>:role/<id>")
	}
	c.STS = l.endpoint("STS_ENDPOINT", DefaultSTSEndpoint)
	c.LogLevel = l.level("LOG_LEVEL")
	c.SSM = l.ssm(c.Region, c.Zones)
	c.Webhook = l.webhook()
	c.AWS = l.aws(c.Zones)
	if v := l.get("TENCENTCLOUD_CREDENTIALS_SECRET", ""); v != "" {
		if !awsSecretID.MatchString(v) {
			l.fail("TENCENTCLOUD_CREDENTIALS_SECRET", "%q is not an AWS secret name or ARN", excerpt.Of(v, 64))
		}
		c.TencentCredentialsSecret = v
	}
	if c.AWS != nil || c.TencentCredentialsSecret != "" {
		l.awsEnvironment()
	}
	switch mode := l.get("ROTATION_MODE", "refresh"); mode {
	case "refresh":
	case "staged":
		c.Staged = true
		if c.SSM != nil && c.SSM.PendingVersionID == c.SSM.VersionID {
			l.fail("SSM_PENDING_VERSION_ID", "%q is SSM_VERSION_ID too: a staged key would overwrite the live one before it works", excerpt.Of(c.SSM.VersionID, 64))
		}
		if c.SSM == nil && c.AWS == nil && !l.failed("SSM_SECRET_NAME", "AWS_SECRET_ID") {
			l.fail("ROTATION_MODE", "staged needs SSM_SECRET_NAME or AWS_SECRET_ID: the new key must be stored durably before it goes live")
		}
	default:
		l.fail("ROTATION_MODE", "%q: want refresh or staged", excerpt.Of(mode, 32))
	}
	if c.SSM == nil && c.Webhook == nil && c.AWS == nil && !l.failed("SSM_SECRET_NAME", "WEBHOOK_URL", "AWS_SECRET_ID") {
		l.fail("SSM_SECRET_NAME", "no sink configured: set SSM_SECRET_NAME, AWS_SECRET_ID and/or WEBHOOK_URL; a refreshed key with nowhere to go locks out every gateway client")
	}
	if len(l.problems) > 0 {
		return Config{}, &Error{Problems: l.problems}
	}
	return c, nil
}

var (
	zoneID     = regexp.MustCompile(`^zone-[a-z0-9]{1,64}$`)
	secretName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
	versionID  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	region     = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)
	// awsSecretID is a secret name (letters, digits, /_+=.@-) or its ARN.
	awsSecretID = regexp.MustCompile(`^([A-Za-z0-9/_+=.@-]{1,512}|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512})$`)
	roleARN     = regexp.MustCompile(`^qcs::cam::uin/[0-9]+:(roleName/[\w+=,.@-]+|role/[\w/+=,.@-]+)$`)
	zoneSplitRe = regexp.MustCompile(`[\s,]+`)
)

// ParseZones splits a comma/space separated list of zone ids, keeping order
// and dropping duplicates.
func ParseZones(value string) ([]string, error) {
	var zones []string
	seen := map[string]bool{}
	for _, z := range zoneSplitRe.Split(strings.TrimSpace(value), -1) {
		if z == "" {
			continue
		}
		if err := CheckZoneID(z); err != nil {
			return nil, err
		}
		if !seen[z] {
			seen[z] = true
			zones = append(zones, z)
		}
	}
	if len(zones) == 0 {
		return nil, fmt.Errorf("no zone ids")
	}
	return zones, nil
}

// ValidZoneID reports whether z has the shape of a zone id.
func ValidZoneID(z string) bool { return zoneID.MatchString(z) }

// CheckZoneID is ValidZoneID as an error that says what a zone id looks
// like, quoting at most 64 bytes of z: the one message for a bad zone id,
// whether it came from ZONE_IDS, the command line or an event.
func CheckZoneID(z string) error {
	if !ValidZoneID(z) {
		return fmt.Errorf("%q is not a zone id (zone- followed by lowercase letters and digits)", excerpt.Of(z, 64))
	}
	return nil
}

type loader struct {
	getenv   func(string) string
	problems []Problem
}

func (l *loader) fail(name, format string, args ...any) {
	l.problems = append(l.problems, Problem{Var: name, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) failed(names ...string) bool {
	for _, p := range l.problems {
		for _, n := range names {
			if p.Var == n {
				return true
			}
		}
	}
	return false
}

func (l *loader) get(name, def string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return def
}

func (l *loader) zones(name string) []string {
	v := l.getenv(name)
	if strings.TrimSpace(v) == "" {
		l.fail(name, "required: the zone ids this function may rotate, e.g. zone-2abc1234")
		return nil
	}
	zones, err := ParseZones(v)
	if err != nil {
		l.fail(name, "%v", err)
	}
	return zones
}

func (l *loader) endpoint(name, def string) endpoint.Endpoint {
	e, err := endpoint.Parse(l.get(name, def))
	if err != nil {
		l.fail(name, "%v", err)
	}
	return e
}

func (l *loader) rate(name string, def float64) float64 {
	v := l.get(name, "")
	if v == "" {
		return def
	}
	r, err := strconv.ParseFloat(v, 64)
	// NaN compares false with everything, so it would pass the bounds and
	// switch the client-side limit off.
	if err != nil || math.IsNaN(r) || r <= 0 || r > 1000 {
		l.fail(name, "%q is not a rate in requests per second (0 < rate <= 1000; the documented TEO limit is 20)", excerpt.Of(v, 64))
		return def
	}
	return r
}

// duration reads a Go duration such as 5s or 1m30s within [lo, hi].
func (l *loader) duration(name string, def, lo, hi time.Duration) time.Duration {
	v := l.get(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		l.fail(name, "%q is not a duration from %s to %s, such as 5s", excerpt.Of(v, 64), lo, hi)
		return def
	}
	return d
}

// keyAge reads a Go duration or a number of days ("30d"); unset is 0 (off).
func (l *loader) keyAge(name string) time.Duration {
	v := l.get(name, "")
	if v == "" {
		return 0
	}
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		if n, err = strconv.Atoi(days); err == nil {
			d = time.Duration(n) * 24 * time.Hour
		}
	} else {
		d, err = time.ParseDuration(v)
	}
	if err != nil || d < time.Hour || d > 3660*24*time.Hour {
		l.fail(name, "%q is not a key age from 1h to 3660d, such as 30d or 720h", excerpt.Of(v, 64))
		return 0
	}
	return d
}

func (l *loader) level(name string) slog.Level {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.get(name, "info"))); err != nil {
		l.fail(name, "want debug, info, warn or error")
	}
	return lv
}

func (l *loader) bool(name string, def bool) bool {
	v := l.get(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.fail(name, "%q is not true or false", excerpt.Of(v, 64))
	}
	return b
}

// whsec checks a Standard Webhooks secret (stdwebhook.CheckSecret). The
// value itself never appears in a message.
func (l *loader) whsec(name, v string) {
	if err := stdwebhook.CheckSecret(v); err != nil {
		l.fail(name, "%v", err)
	}
}

func (l *loader) ssm(defaultRegion string, zones []string) *SSM {
	name := l.get("SSM_SECRET_NAME", "")
	if name == "" {
		return nil
	}
	s := &SSM{
		SecretName:       name,
		VersionID:        l.get("SSM_VERSION_ID", DefaultSSMVersionID),
		PendingVersionID: l.get("SSM_PENDING_VERSION_ID", DefaultSSMPendingVersionID),
		Region:           l.get("SSM_REGION", defaultRegion),
		Endpoint:         l.endpoint("SSM_ENDPOINT", DefaultSSMEndpoint),
	}
	if z, bad := firstInvalid(zones, s.SecretNameFor, secretName.MatchString); bad {
		l.fail("SSM_SECRET_NAME", "%q: letters, digits, - and _ only, starting with a letter or digit, at most 128 bytes after {zone} is replaced%s", excerpt.Of(name, 64), forZone(z))
	}
	if len(zones) > 1 && !strings.Contains(name, ZonePlaceholder) {
		l.fail("SSM_SECRET_NAME", "must contain {zone} when ZONE_IDS lists more than one zone, or every zone would overwrite the same secret")
	}
	if !versionID.MatchString(s.VersionID) {
		l.fail("SSM_VERSION_ID", "%q: letters, digits, '.', '-' and '_', starting with a letter or digit, at most 64 bytes", excerpt.Of(s.VersionID, 64))
	}
	switch {
	case !versionID.MatchString(s.PendingVersionID):
		l.fail("SSM_PENDING_VERSION_ID", "%q: letters, digits, '.', '-' and '_', starting with a letter or digit, at most 64 bytes", excerpt.Of(s.PendingVersionID, 64))
	}
	switch {
	case s.Region == "":
		l.fail("SSM_REGION", "required with SSM_SECRET_NAME (or set TENCENTCLOUD_REGION): SSM secrets are regional")
	case !region.MatchString(s.Region):
		l.fail("SSM_REGION", "%q is not a region such as ap-guangzhou", excerpt.Of(s.Region, 64))
	}
	return s
}

func (l *loader) aws(zones []string) *AWS {
	id := l.get("AWS_SECRET_ID", "")
	if id == "" {
		return nil
	}
	a := &AWS{SecretID: id}
	if z, bad := firstInvalid(zones, a.SecretIDFor, awsSecretID.MatchString); bad {
		l.fail("AWS_SECRET_ID", "%q: a secret name (letters, digits and /_+=.@-, at most 512) or its ARN, after {zone} is replaced%s", excerpt.Of(id, 64), forZone(z))
	}
	if len(zones) > 1 && !strings.Contains(id, ZonePlaceholder) {
		l.fail("AWS_SECRET_ID", "must contain {zone} when ZONE_IDS lists more than one zone, or every zone would overwrite the same secret")
	}
	return a
}

// sampleZone stands for the zones when ZONE_IDS itself is invalid, so that
// a secret name is still checked.
const sampleZone = "zone-0123456789ab"

// firstInvalid returns the first configured zone whose name (nameFor) is
// not valid: the length limits apply after {zone} is replaced, so every
// configured zone is checked, not a sample. With no zones (ZONE_IDS
// refused) a sample zone is checked instead, reported as "".
func firstInvalid(zones []string, nameFor func(string) string, valid func(string) bool) (zone string, bad bool) {
	if len(zones) == 0 {
		return "", !valid(nameFor(sampleZone))
	}
	for _, z := range zones {
		if !valid(nameFor(z)) {
			return z, true
		}
	}
	return "", false
}

// forZone names the zone an invalid name was made for.
func forZone(z string) string {
	if z == "" {
		return ""
	}
	return " (for zone " + z + ")"
}

// awsEnvironment checks the AWS SDK's standard variables the function reads.
func (l *loader) awsEnvironment() {
	switch r := l.get("AWS_REGION", l.get("AWS_DEFAULT_REGION", "")); {
	case r == "":
		l.fail("AWS_REGION", "required with AWS_SECRET_ID or TENCENTCLOUD_CREDENTIALS_SECRET (Lambda sets it): the region of the secrets")
	case !region.MatchString(r):
		l.fail("AWS_REGION", "%q is not a region such as us-east-1", excerpt.Of(r, 64))
	}
	for _, name := range []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"} {
		if v := l.get(name, ""); v != "" {
			if _, err := endpoint.Parse(v); err != nil {
				l.fail(name, "%v", err)
			}
		}
	}
}

func (l *loader) webhook() *Webhook {
	raw := l.get("WEBHOOK_URL", "")
	if raw == "" {
		if l.getenv("WEBHOOK_SECRET") != "" {
			l.fail("WEBHOOK_URL", "WEBHOOK_SECRET is set but WEBHOOK_URL is not")
		}
		return nil
	}
	w := &Webhook{Secret: l.getenv("WEBHOOK_SECRET"), IncludeKey: l.bool("WEBHOOK_INCLUDE_KEY", true)}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		l.fail("WEBHOOK_URL", "not an absolute URL")
	case u.User != nil:
		l.fail("WEBHOOK_URL", "must not carry credentials in the URL; the request is signed with WEBHOOK_SECRET")
	case u.Fragment != "":
		l.fail("WEBHOOK_URL", "must not have a fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && endpoint.IsLoopback(u.Hostname()):
	case u.Scheme == "http":
		l.fail("WEBHOOK_URL", "must be https (http is accepted only for loopback hosts): the body carries the key")
	default:
		l.fail("WEBHOOK_URL", "scheme %q is not https", u.Scheme)
	}
	if err == nil && u.Host != "" {
		if herr := endpoint.ValidHostPort(u.Host); herr != nil {
			l.fail("WEBHOOK_URL", "%v", herr)
		}
	}
	w.URL = u
	if w.Secret == "" {
		l.fail("WEBHOOK_SECRET", "required with WEBHOOK_URL: every webhook is signed (Standard Webhooks)")
	} else {
		l.whsec("WEBHOOK_SECRET", w.Secret)
	}
	return w
}
