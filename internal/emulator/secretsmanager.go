package emulator

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/ratelimit"
)

// Staging labels with a meaning of their own.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

const (
	awsMaxSecretStringBytes = 65536
	awsMaxDescriptionChars  = 2048
	awsMaxTags              = 50
	awsMaxStagesPerVersion  = 20
	awsMaxVersions          = 100
	awsVersionKeepAge       = 24 * time.Hour
	awsARNSuffixLen         = 6 // "-" and 6 random characters follow the name in an ARN
)

var awsSecretNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

// AWSVersion is one version of an AWS secret.
type AWSVersion struct {
	ID      string // the ClientRequestToken that created it
	Value   string // SecretString
	Stages  []string
	Created time.Time
}

// AWSSecretState is an AWS Secrets Manager secret as the emulator holds it.
type AWSSecretState struct {
	Region, Name, ARN, Description string
	Tags                           map[string]string
	Versions                       []AWSVersion // in creation order
	// DeletedDate is set when the secret is scheduled for deletion: reads of
	// its value and all writes then fail with InvalidRequestException,
	// DescribeSecret still answers. The deletion itself is not carried out.
	DeletedDate time.Time
	Created     time.Time
	LastChanged time.Time
}

func (s *AWSSecretState) clone() AWSSecretState {
	c := *s
	c.Tags = maps.Clone(s.Tags)
	c.Versions = slices.Clone(s.Versions)
	for i := range c.Versions {
		c.Versions[i].Stages = slices.Clone(c.Versions[i].Stages)
	}
	return c
}

func awsARN(region, name string) string {
	return "arn:aws:secretsmanager:" + region + ":" + awsAccountID + ":secret:" + name + "-" + randomAlphanumeric(awsARNSuffixLen)
}

// AWSSecret returns a copy of an AWS secret.
func (e *Emulator) AWSSecret(region, name string) (AWSSecretState, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return secretCopy(e.awsSecrets, secretKey{region, name})
}

// allAWSSecrets returns copies of all AWS secrets, by region and name.
func (e *Emulator) allAWSSecrets() []AWSSecretState {
	e.mu.Lock()
	defer e.mu.Unlock()
	return secretCopies(e.awsSecrets)
}

// PutAWSSecret seeds (or replaces) an AWS secret without going through the
// API or its validation (e.g. one scheduled for deletion). An empty Region
// means us-east-1, an empty ARN gets one with a random suffix, zero times
// mean now.
func (e *Emulator) PutAWSSecret(s AWSSecretState) {
	now := e.now()
	c := s.clone()
	c.Region = cmp.Or(c.Region, awsDefaultRegion)
	if c.ARN == "" {
		c.ARN = awsARN(c.Region, c.Name)
	}
	orTime(&c.Created, now)
	orTime(&c.LastChanged, c.Created)
	for i := range c.Versions {
		orTime(&c.Versions[i].Created, now)
	}
	store(e, e.awsSecrets, secretKey{c.Region, c.Name}, &c)
}

// awsEndpoints lists the AWS actions with their documented quotas. Several
// quotas are combined rates of a group of actions, so the group shares one
// limiter: DescribeSecret and GetSecretValue 10,000/s; PutSecretValue and
// UpdateSecretVersionStage 50/s (with UpdateSecret and the replication
// actions, not emulated); TagResource and UntagResource 50/s. CreateSecret
// and ListSecretVersionIds get 50/s.
func awsEndpoints() []*endpoint {
	reads := ratelimit.NewStrict(10000)
	writes := ratelimit.NewStrict(50)
	tagging := ratelimit.NewStrict(50)
	ep := func(action string, perSecond float64, l *ratelimit.Limiter, h func(*Emulator, call) (result, error)) *endpoint {
		return &endpoint{service: awsService, action: awsTargetPrefix + action, perSecond: perSecond, window: l, handle: h}
	}
	return []*endpoint{
		ep("CreateSecret", 50, ratelimit.NewStrict(50), (*Emulator).smCreateSecret),
		ep("PutSecretValue", 50, writes, (*Emulator).smPutSecretValue),
		ep("UpdateSecretVersionStage", 50, writes, (*Emulator).smUpdateSecretVersionStage),
		ep("GetSecretValue", 10000, reads, (*Emulator).smGetSecretValue),
		ep("DescribeSecret", 10000, reads, (*Emulator).smDescribeSecret),
		ep("ListSecretVersionIds", 50, ratelimit.NewStrict(50), (*Emulator).smListSecretVersionIds),
		ep("TagResource", 50, tagging, (*Emulator).smTagResource),
		ep("UntagResource", 50, tagging, (*Emulator).smUntagResource),
	}
}

// --- request members ---

func invalidParameter(format string, args ...any) *apiError {
	return apiErrorf("InvalidParameterException", format, args...)
}

func serializationError(name string) *apiError {
	return apiErrorf("SerializationException", "The member %s has the wrong JSON type.", name)
}

// member decodes the member name (names are case sensitive, as on the
// wire) into v and reports whether it was present; null is absent.
func (r *paramReader) member(name string, v any) bool {
	raw, ok := r.p[name]
	if r.err != nil || !ok || bytes.Equal(raw, []byte("null")) {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		r.check(serializationError(name))
		return false
	}
	return true
}

// awsString returns a string member and whether it was present.
func (r *paramReader) awsString(name string) (string, bool) {
	var s string
	ok := r.member(name, &s)
	return s, ok
}

func (r *paramReader) awsRequired(name string) string {
	s, ok := r.awsString(name)
	if !ok || s == "" {
		r.check(invalidParameter("You must provide a value for the %s parameter.", name))
	}
	return s
}

func (r *paramReader) awsStrings(name string) ([]string, bool) {
	var list []string
	ok := r.member(name, &list)
	return list, ok
}

// awsTags reads a Tags list of {"Key","Value"} (exact member names); nil
// when absent.
func (r *paramReader) awsTags() [][2]string {
	var list []params
	if !r.member("Tags", &list) {
		return nil
	}
	out := make([][2]string, 0, len(list))
	for _, t := range list {
		tr := t.reader()
		k, _ := tr.awsString("Key")
		v, _ := tr.awsString("Value")
		switch {
		case tr.err != nil:
			r.check(tr.err)
		case k == "" || len(k) > 128 || len(v) > 256:
			r.check(invalidParameter("A tag key must be 1 to 128 characters and a tag value at most 256."))
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			r.check(invalidParameter("The tag key prefix aws: is reserved for AWS use."))
		}
		if r.err != nil {
			return nil
		}
		out = append(out, [2]string{k, v})
	}
	return out
}

func (r *paramReader) awsClientRequestToken() string {
	tok, ok := r.awsString("ClientRequestToken")
	switch {
	case r.err != nil:
	case !ok:
		return newRequestID() // what the SDK fills in when the caller does not
	case len(tok) < 32 || len(tok) > 64:
		r.check(invalidParameter("ClientRequestToken must be 32 to 64 characters long."))
	}
	return tok
}

// awsSecretString reads the value of a write. Only SecretString is emulated.
func (r *paramReader) awsSecretString() (string, bool) {
	if _, ok := r.p["SecretBinary"]; ok {
		r.check(invalidParameter("The emulator supports SecretString only, not SecretBinary."))
		return "", false
	}
	v, ok := r.awsString("SecretString")
	if len(v) > awsMaxSecretStringBytes {
		r.check(invalidParameter("SecretString must be at most %d bytes.", awsMaxSecretStringBytes))
	}
	return v, ok
}

// --- lookups and staging ---

var (
	errSecretNotFound = apiErrorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	errMarkedDeleted  = apiErrorf("InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
)

// findAWSSecretLocked resolves a SecretId: a name, a full ARN or an ARN
// without the random suffix, in the region of the request.
func (e *Emulator) findAWSSecretLocked(region, id string) (*AWSSecretState, error) {
	if !strings.HasPrefix(id, "arn:") {
		if s, ok := e.awsSecrets[secretKey{region, id}]; ok {
			return s, nil
		}
		return nil, errSecretNotFound
	}
	for k, s := range e.awsSecrets {
		if k.region != region {
			continue
		}
		if s.ARN == id || (len(s.ARN) > awsARNSuffixLen+1 && s.ARN[:len(s.ARN)-awsARNSuffixLen-1] == id) {
			return s, nil
		}
	}
	return nil, errSecretNotFound
}

// onAWSSecret runs fn, under the lock, on the secret the call's SecretId
// names. live refuses a secret marked for deletion, as reads of its value
// and every write do.
func (e *Emulator) onAWSSecret(c call, live bool, fn func(s *AWSSecretState) (result, error)) (result, error) {
	r := c.params.reader()
	id := r.awsRequired("SecretId")
	if r.err != nil {
		return nil, r.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.findAWSSecretLocked(c.region, id)
	if err != nil {
		return nil, err
	}
	if live && !s.DeletedDate.IsZero() {
		return nil, errMarkedDeleted
	}
	return fn(s)
}

func (s *AWSSecretState) versionIndex(id string) int {
	return slices.IndexFunc(s.Versions, func(v AWSVersion) bool { return v.ID == id })
}

func (s *AWSSecretState) stageIndex(stage string) int {
	return slices.IndexFunc(s.Versions, func(v AWSVersion) bool { return slices.Contains(v.Stages, stage) })
}

// moveStage attaches stage to version to, detaching it from the version
// that had it. Moving AWSCURRENT makes the version that had it AWSPREVIOUS.
func (s *AWSSecretState) moveStage(stage string, to int) {
	from := s.stageIndex(stage)
	if from == to {
		return
	}
	if from >= 0 {
		s.removeStage(stage, from)
	}
	s.Versions[to].Stages = append(s.Versions[to].Stages, stage)
	if stage == StageCurrent && from >= 0 {
		s.moveStage(StagePrevious, from)
	}
}

func (s *AWSSecretState) removeStage(stage string, i int) {
	s.Versions[i].Stages = slices.DeleteFunc(s.Versions[i].Stages, func(x string) bool { return x == stage })
}

// prune drops versions without a staging label beyond the 100 a secret
// keeps, oldest first, but never one younger than 24 hours.
func (s *AWSSecretState) prune(now time.Time) {
	for i := 0; len(s.Versions) > awsMaxVersions && i < len(s.Versions); {
		v := s.Versions[i]
		if len(v.Stages) == 0 && now.Sub(v.Created) >= awsVersionKeepAge {
			s.Versions = slices.Delete(s.Versions, i, i+1)
			continue
		}
		i++
	}
}

func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func awsTagList(tags map[string]string) []map[string]string {
	out := make([]map[string]string, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, map[string]string{"Key": k, "Value": tags[k]})
	}
	return out
}

// --- actions ---

func (e *Emulator) smCreateSecret(c call) (result, error) {
	r := c.params.reader()
	name := r.awsRequired("Name")
	if !awsSecretNamePattern.MatchString(name) {
		r.check(invalidParameter("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"))
	}
	desc, _ := r.awsString("Description")
	if len([]rune(desc)) > awsMaxDescriptionChars {
		r.check(invalidParameter("Description must be at most %d characters.", awsMaxDescriptionChars))
	}
	value, hasValue := r.awsSecretString()
	token := r.awsClientRequestToken()
	tags := r.awsTags()
	if len(tags) > awsMaxTags {
		r.check(invalidParameter("A secret can have at most %d tags.", awsMaxTags))
	}
	if r.err != nil {
		return nil, r.err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	key := secretKey{c.region, name}
	if s, ok := e.awsSecrets[key]; ok {
		if !s.DeletedDate.IsZero() {
			return nil, apiErrorf("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		// The same request again (same token, same value) is a success.
		if i := s.versionIndex(token); hasValue && i >= 0 && s.Versions[i].Value == value {
			c.rec.wrote(strings.Join(s.Versions[i].Stages, ","), value)
			return map[string]any{"ARN": s.ARN, "Name": s.Name, "VersionId": token}, nil
		}
		return nil, apiErrorf("ResourceExistsException", "The operation failed because the secret %s already exists.", name)
	}
	s := &AWSSecretState{
		Region: c.region, Name: name, ARN: awsARN(c.region, name), Description: desc,
		Tags: map[string]string{}, Created: c.now, LastChanged: c.now,
	}
	for _, t := range tags {
		s.Tags[t[0]] = t[1]
	}
	res := map[string]any{"ARN": s.ARN, "Name": s.Name}
	if hasValue {
		s.Versions = []AWSVersion{{ID: token, Value: value, Stages: []string{StageCurrent}, Created: c.now}}
		res["VersionId"] = token
		c.rec.wrote(StageCurrent, value)
	}
	e.awsSecrets[key] = s
	return res, nil
}

func (e *Emulator) smPutSecretValue(c call) (result, error) {
	r := c.params.reader()
	value, hasValue := r.awsSecretString()
	if !hasValue {
		r.check(invalidParameter("You must provide either SecretString or SecretBinary."))
	}
	token := r.awsClientRequestToken()
	stages, given := r.awsStrings("VersionStages")
	if !given {
		stages = []string{StageCurrent}
	}
	if len(stages) > awsMaxStagesPerVersion {
		r.check(invalidParameter("A version can have at most %d staging labels.", awsMaxStagesPerVersion))
	}
	if slices.ContainsFunc(stages, func(st string) bool { return st == "" || len(st) > 256 }) {
		r.check(invalidParameter("A staging label must be 1 to 256 characters."))
	}
	if r.err != nil {
		return nil, r.err
	}
	stages = slices.Compact(slices.Sorted(slices.Values(stages)))

	return e.onAWSSecret(c, true, func(s *AWSSecretState) (result, error) {
		if i := s.versionIndex(token); i >= 0 {
			if s.Versions[i].Value != value {
				return nil, apiErrorf("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
			}
			v := s.Versions[i]
			c.rec.wrote(strings.Join(v.Stages, ","), v.Value)
			return map[string]any{"ARN": s.ARN, "Name": s.Name, "VersionId": v.ID, "VersionStages": slices.Clone(v.Stages)}, nil
		}
		s.Versions = append(s.Versions, AWSVersion{ID: token, Value: value, Stages: []string{}, Created: c.now})
		i := len(s.Versions) - 1
		for _, st := range stages {
			s.moveStage(st, i)
		}
		s.LastChanged = c.now
		v := s.Versions[i]
		c.rec.wrote(strings.Join(v.Stages, ","), v.Value)
		s.prune(c.now)
		return map[string]any{"ARN": s.ARN, "Name": s.Name, "VersionId": v.ID, "VersionStages": slices.Clone(v.Stages)}, nil
	})
}

func (e *Emulator) smGetSecretValue(c call) (result, error) {
	r := c.params.reader()
	versionID, hasID := r.awsString("VersionId")
	stage, hasStage := r.awsString("VersionStage")
	if r.err != nil {
		return nil, r.err
	}
	if !hasID && !hasStage {
		stage, hasStage = StageCurrent, true
	}
	return e.onAWSSecret(c, true, func(s *AWSSecretState) (result, error) {
		i := -1
		switch {
		case hasID:
			i = s.versionIndex(versionID)
			if i < 0 || (hasStage && !slices.Contains(s.Versions[i].Stages, stage)) {
				return nil, apiErrorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", versionID)
			}
		default:
			i = s.stageIndex(stage)
			if i < 0 {
				return nil, apiErrorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
			}
		}
		v := s.Versions[i]
		return map[string]any{
			"ARN": s.ARN, "Name": s.Name, "VersionId": v.ID, "SecretString": v.Value,
			"VersionStages": slices.Clone(v.Stages), "CreatedDate": epochSeconds(v.Created),
		}, nil
	})
}

func (e *Emulator) smDescribeSecret(c call) (result, error) {
	return e.onAWSSecret(c, false, func(s *AWSSecretState) (result, error) {
		res := map[string]any{
			"ARN": s.ARN, "Name": s.Name,
			"CreatedDate": epochSeconds(s.Created), "LastChangedDate": epochSeconds(s.LastChanged),
		}
		if s.Description != "" {
			res["Description"] = s.Description
		}
		if len(s.Tags) > 0 {
			res["Tags"] = awsTagList(s.Tags)
		}
		stages := map[string][]string{}
		for _, v := range s.Versions {
			if len(v.Stages) > 0 {
				stages[v.ID] = slices.Clone(v.Stages)
			}
		}
		if len(stages) > 0 {
			res["VersionIdsToStages"] = stages
		}
		if !s.DeletedDate.IsZero() {
			res["DeletedDate"] = epochSeconds(s.DeletedDate)
		}
		return res, nil
	})
}

func (e *Emulator) smListSecretVersionIds(c call) (result, error) {
	var deprecated bool
	r := c.params.reader()
	r.member("IncludeDeprecated", &deprecated)
	if r.err != nil {
		return nil, r.err
	}
	return e.onAWSSecret(c, false, func(s *AWSSecretState) (result, error) {
		versions := []map[string]any{}
		for _, v := range slices.Backward(s.Versions) {
			if len(v.Stages) == 0 && !deprecated {
				continue
			}
			entry := map[string]any{"VersionId": v.ID, "CreatedDate": epochSeconds(v.Created)}
			if len(v.Stages) > 0 {
				entry["VersionStages"] = slices.Clone(v.Stages)
			}
			versions = append(versions, entry)
		}
		return map[string]any{"ARN": s.ARN, "Name": s.Name, "Versions": versions}, nil
	})
}

func (e *Emulator) smTagResource(c call) (result, error) {
	r := c.params.reader()
	tags := r.awsTags()
	if tags == nil {
		r.check(invalidParameter("You must provide a value for the Tags parameter."))
	}
	if r.err != nil {
		return nil, r.err
	}
	return e.onAWSSecret(c, true, func(s *AWSSecretState) (result, error) {
		merged := maps.Clone(s.Tags)
		if merged == nil {
			merged = map[string]string{}
		}
		for _, t := range tags {
			merged[t[0]] = t[1]
		}
		if len(merged) > awsMaxTags {
			return nil, invalidParameter("A secret can have at most %d tags.", awsMaxTags)
		}
		s.Tags = merged
		s.LastChanged = c.now
		return nil, nil
	})
}

func (e *Emulator) smUntagResource(c call) (result, error) {
	r := c.params.reader()
	keys, ok := r.awsStrings("TagKeys")
	if !ok {
		r.check(invalidParameter("You must provide a value for the TagKeys parameter."))
	}
	if r.err != nil {
		return nil, r.err
	}
	return e.onAWSSecret(c, true, func(s *AWSSecretState) (result, error) {
		for _, k := range keys {
			delete(s.Tags, k)
		}
		s.LastChanged = c.now
		return nil, nil
	})
}

// smUpdateSecretVersionStage follows the API reference: the label moves to
// MoveToVersionId; if another version has it, that version must be named in
// RemoveFromVersionId; with only RemoveFromVersionId the label is detached.
// Moving AWSCURRENT makes the version that had it AWSPREVIOUS. The emulator
// refuses to detach AWSCURRENT without moving it, which would leave the
// secret without a current value.
func (e *Emulator) smUpdateSecretVersionStage(c call) (result, error) {
	r := c.params.reader()
	stage := r.awsRequired("VersionStage")
	if len(stage) > 256 {
		r.check(invalidParameter("A staging label must be 1 to 256 characters."))
	}
	moveTo, hasMove := r.awsString("MoveToVersionId")
	removeFrom, hasRemove := r.awsString("RemoveFromVersionId")
	if r.err != nil {
		return nil, r.err
	}
	if !hasMove && !hasRemove {
		return nil, invalidParameter("You must specify MoveToVersionId, RemoveFromVersionId or both.")
	}
	return e.onAWSSecret(c, true, func(s *AWSSecretState) (result, error) {
		holder := s.stageIndex(stage)
		if hasRemove {
			i := s.versionIndex(removeFrom)
			if i < 0 || i != holder {
				return nil, invalidParameter("The staging label %s is currently not attached to the version %s.", stage, removeFrom)
			}
		}
		res := map[string]any{"ARN": s.ARN, "Name": s.Name}
		if !hasMove {
			if stage == StageCurrent {
				return nil, invalidParameter("You can't remove the staging label AWSCURRENT without moving it to another version with MoveToVersionId.")
			}
			s.removeStage(stage, holder)
			s.LastChanged = c.now
			c.rec.wrote(stage)
			return res, nil
		}
		to := s.versionIndex(moveTo)
		if to < 0 {
			return nil, apiErrorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret version: %s", moveTo)
		}
		if holder >= 0 && holder != to && !hasRemove {
			return nil, invalidParameter("The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.",
				stage, s.Versions[holder].ID)
		}
		s.moveStage(stage, to)
		s.LastChanged = c.now
		c.rec.wrote(stage)
		return res, nil
	})
}
