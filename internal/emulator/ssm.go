package emulator

import (
	"cmp"
	"encoding/base64"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Secret statuses (DescribeSecret Status).
const (
	StatusEnabled       = "Enabled"
	StatusDisabled      = "Disabled"
	StatusPendingDelete = "PendingDelete"
)

const (
	defaultVersionID     = "SSM_Current"
	maxSecretsPerRegion  = 1000
	maxVersionsPerSecret = 10
	maxSecretValueBytes  = 32 << 10
	maxDescriptionBytes  = 2048
	maxRecoveryDays      = 30
	emulatedAccountUin   = 100000000001
)

var (
	secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
	versionIDPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// secretKey keys the SSM and the AWS secrets: names are unique per region.
type secretKey struct{ region, name string }

func (k secretKey) compare(o secretKey) int {
	return cmp.Or(strings.Compare(k.region, o.region), strings.Compare(k.name, o.name))
}

// secretCopy returns a copy of m[k]; the caller holds the lock.
func secretCopy[S any, P interface {
	*S
	clone() S
}](m map[secretKey]P, k secretKey) (S, bool) {
	s, ok := m[k]
	if !ok {
		var zero S
		return zero, false
	}
	return s.clone(), true
}

// secretCopies returns copies of all secrets of m, by region and name; the
// caller holds the lock.
func secretCopies[S any, P interface {
	*S
	clone() S
}](m map[secretKey]P) []S {
	out := make([]S, 0, len(m))
	for _, k := range slices.SortedFunc(maps.Keys(m), secretKey.compare) {
		out = append(out, m[k].clone())
	}
	return out
}

// orTime sets a zero *t to def.
func orTime(t *time.Time, def time.Time) {
	if t.IsZero() {
		*t = def
	}
}

// secretsLocked returns the secret table after carrying out the scheduled
// deletions that are due on the emulator clock. Every access goes through
// it, so the API and the inspection methods always agree.
func (e *Emulator) secretsLocked() map[secretKey]*SecretState {
	now := e.now()
	for id, s := range e.secrets {
		if s.Status == StatusPendingDelete && !now.Before(s.DeleteTime) {
			delete(e.secrets, id)
		}
	}
	return e.secrets
}

// lookupSecretLocked finds a secret for an action other than
// GetSecretValue (which has its own not-found code).
func (e *Emulator) lookupSecretLocked(region, name string) (*SecretState, error) {
	s, ok := e.secretsLocked()[secretKey{region, name}]
	if !ok {
		return nil, apiErrorf("ResourceNotFound", "The secret `%s` does not exist in region `%s`.", name, region)
	}
	return s, nil
}

func secretName(p params) (string, error) {
	name, err := p.required("SecretName")
	if err == nil && !secretNamePattern.MatchString(name) {
		err = apiErrorf("InvalidParameterValue", "The parameter `SecretName` must be 1 to 128 letters, digits, '-' or '_', starting with a letter or digit.")
	}
	return name, err
}

func checkVersionID(id string) error {
	if !versionIDPattern.MatchString(id) {
		return apiErrorf("InvalidParameterValue", "The parameter `VersionId` must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit.")
	}
	return nil
}

func versionID(p params) (string, error) {
	id, err := p.required("VersionId")
	if err == nil {
		err = checkVersionID(id)
	}
	return id, err
}

// secretValue reads exactly one of SecretString and SecretBinary. Binary
// values stay in their base64 form, which is what GetSecretValue returns.
func (r *paramReader) secretValue() (value string, binary bool) {
	str, bin := r.str("SecretString"), r.str("SecretBinary")
	switch {
	case r.err != nil:
	case (str == "") == (bin == ""):
		r.check(apiErrorf("InvalidParameterValue", "Exactly one of the parameters `SecretString` and `SecretBinary` must be set."))
	case bin != "":
		raw, err := base64.StdEncoding.DecodeString(bin)
		if err != nil {
			r.check(apiErrorf("InvalidParameterValue", "The parameter `SecretBinary` must be base64."))
		} else if len(raw) > maxSecretValueBytes {
			r.check(apiErrorf("InvalidParameterValue", "The parameter `SecretBinary` exceeds %d bytes.", maxSecretValueBytes))
		}
		return bin, true
	case len(str) > maxSecretValueBytes:
		r.check(apiErrorf("InvalidParameterValue", "The parameter `SecretString` exceeds %d bytes.", maxSecretValueBytes))
	}
	return str, false
}

func description(p params) (string, error) {
	d, err := p.str("Description")
	if err == nil && len(d) > maxDescriptionBytes {
		err = apiErrorf("InvalidParameterValue", "The parameter `Description` exceeds %d bytes.", maxDescriptionBytes)
	}
	return d, err
}

func tags(p params) (map[string]string, error) {
	var list []struct{ TagKey, TagValue string }
	if err := p.decode("Tags", &list); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(list))
	for _, t := range list {
		if t.TagKey == "" {
			return nil, apiErrorf("InvalidParameterValue", "Every tag needs a non-empty `TagKey`.")
		}
		if _, dup := out[t.TagKey]; dup {
			return nil, apiErrorf("InvalidParameterValue.TagKeysDuplicated", "The tag key `%s` is repeated.", t.TagKey)
		}
		out[t.TagKey] = t.TagValue
	}
	return out, nil
}

// notWhilePendingDelete guards the writes the documentation allows only on
// Enabled and Disabled secrets.
func notWhilePendingDelete(s *SecretState, action string) error {
	if s.Status == StatusPendingDelete {
		return apiErrorf("OperationDenied", "%s is not allowed on the secret `%s` while it is scheduled for deletion; restore it first.", action, s.Name)
	}
	return nil
}

func (s *SecretState) version(id string) int {
	return slices.IndexFunc(s.Versions, func(v Version) bool { return v.ID == id })
}

func (e *Emulator) ssmCreateSecret(c call) (result, error) {
	r := c.params.reader()
	name := read(r, secretName)
	vid := cmp.Or(r.str("VersionId"), defaultVersionID)
	r.check(checkVersionID(vid))
	desc := read(r, description)
	if r.integer("SecretType", 0) != 0 {
		r.check(apiErrorf("InvalidParameterValue", "Only user-defined secrets (SecretType 0) can be created here."))
	}
	value, binary := r.secretValue()
	tagMap := read(r, tags)
	if r.err != nil {
		return nil, r.err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	secrets := e.secretsLocked()
	if _, exists := secrets[secretKey{c.region, name}]; exists {
		return nil, apiErrorf("ResourceInUse.SecretExists", "The secret `%s` already exists in region `%s`.", name, c.region)
	}
	inRegion := 0
	for id := range secrets {
		if id.region == c.region {
			inRegion++
		}
	}
	if inRegion >= maxSecretsPerRegion {
		return nil, apiErrorf("LimitExceeded", "The region `%s` already holds the maximum of %d secrets.", c.region, maxSecretsPerRegion)
	}
	secrets[secretKey{c.region, name}] = &SecretState{
		Region:      c.region,
		Name:        name,
		Description: desc,
		Status:      StatusEnabled,
		Tags:        tagMap,
		Versions:    []Version{{ID: vid, Value: value, Binary: binary, Created: c.now}},
		Created:     c.now,
	}
	c.rec.wrote(vid, stringValue(value, binary))
	return result{"SecretName": name, "VersionId": vid, "TagCode": 0, "TagMsg": ""}, nil
}

// onSecret runs fn on the named secret, under the lock. A non-empty
// writeAction names a write the documentation allows only on Enabled and
// Disabled secrets.
func (e *Emulator) onSecret(c call, name, writeAction string, fn func(s *SecretState) (result, error)) (result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.lookupSecretLocked(c.region, name)
	if err != nil {
		return nil, err
	}
	if writeAction != "" {
		if err := notWhilePendingDelete(s, writeAction); err != nil {
			return nil, err
		}
	}
	return fn(s)
}

// versionWrite is what PutSecretValue and UpdateSecret carry.
type versionWrite struct {
	name, vid, value string
	binary           bool
}

func parseVersionWrite(p params) (versionWrite, error) {
	r := p.reader()
	w := versionWrite{name: read(r, secretName), vid: read(r, versionID)}
	w.value, w.binary = r.secretValue()
	return w, r.err
}

func (e *Emulator) ssmPutSecretValue(c call) (result, error) {
	w, err := parseVersionWrite(c.params)
	if err != nil {
		return nil, err
	}
	return e.onSecret(c, w.name, "PutSecretValue", func(s *SecretState) (result, error) {
		if s.version(w.vid) >= 0 {
			return nil, apiErrorf("ResourceInUse.VersionIdExists", "The version `%s` of the secret `%s` already exists.", w.vid, w.name)
		}
		if len(s.Versions) >= maxVersionsPerSecret {
			return nil, apiErrorf("LimitExceeded", "The secret `%s` already has the maximum of %d versions; delete one first.", w.name, maxVersionsPerSecret)
		}
		s.Versions = append(s.Versions, Version{ID: w.vid, Value: w.value, Binary: w.binary, Created: c.now})
		c.rec.wrote(w.vid, stringValue(w.value, w.binary))
		return result{"SecretName": w.name, "VersionId": w.vid}, nil
	})
}

func (e *Emulator) ssmUpdateSecret(c call) (result, error) {
	w, err := parseVersionWrite(c.params)
	if err != nil {
		return nil, err
	}
	return e.onSecret(c, w.name, "UpdateSecret", func(s *SecretState) (result, error) {
		i := s.version(w.vid)
		if i < 0 {
			return nil, versionNotFound(w.name, w.vid)
		}
		s.Versions[i].Value, s.Versions[i].Binary = w.value, w.binary
		c.rec.wrote(w.vid, stringValue(w.value, w.binary))
		return result{"SecretName": w.name, "VersionId": w.vid}, nil
	})
}

func (e *Emulator) ssmGetSecretValue(c call) (result, error) {
	r := c.params.reader()
	name, vid := read(r, secretName), read(r, versionID)
	if r.err != nil {
		return nil, r.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.secretsLocked()[secretKey{c.region, name}]
	if !ok {
		return nil, apiErrorf("ResourceNotFound.SecretNotExist", "The secret `%s` does not exist in region `%s`.", name, c.region)
	}
	switch s.Status {
	case StatusDisabled:
		return nil, apiErrorf("ResourceUnavailable.ResourceDisabled", "The secret `%s` is disabled.", name)
	case StatusPendingDelete:
		return nil, apiErrorf("ResourceUnavailable.ResourcePendingDeleted", "The secret `%s` is scheduled for deletion.", name)
	}
	i := s.version(vid)
	if i < 0 {
		return nil, versionNotFound(name, vid)
	}
	v := s.Versions[i]
	res := result{"SecretName": name, "VersionId": vid, "SecretString": "", "SecretBinary": ""}
	if v.Binary {
		res["SecretBinary"] = v.Value
	} else {
		res["SecretString"] = v.Value
	}
	return res, nil
}

func (e *Emulator) ssmDescribeSecret(c call) (result, error) {
	name, err := secretName(c.params)
	if err != nil {
		return nil, err
	}
	return e.onSecret(c, name, "", func(s *SecretState) (result, error) {
		var deleteTime int64
		if s.Status == StatusPendingDelete {
			deleteTime = s.DeleteTime.Unix()
		}
		return result{
			"SecretName":            s.Name,
			"Description":           s.Description,
			"KmsKeyId":              "",
			"CreateUin":             emulatedAccountUin,
			"Status":                s.Status,
			"DeleteTime":            deleteTime,
			"CreateTime":            s.Created.Unix(),
			"SecretType":            0,
			"ProductName":           "",
			"ResourceID":            "",
			"RotationStatus":        false,
			"RotationFrequency":     0,
			"ResourceName":          "",
			"ProjectID":             0,
			"AssociatedInstanceIDs": []string{},
			"TargetUin":             0,
			"AdditionalConfig":      "",
		}, nil
	})
}

func (e *Emulator) ssmListSecretVersionIds(c call) (result, error) {
	name, err := secretName(c.params)
	if err != nil {
		return nil, err
	}
	return e.onSecret(c, name, "", func(s *SecretState) (result, error) {
		versions := make([]map[string]any, len(s.Versions))
		for i, v := range s.Versions {
			versions[i] = map[string]any{"VersionId": v.ID, "CreateTime": v.Created.Unix()}
		}
		return result{"SecretName": name, "Versions": versions}, nil
	})
}

func (e *Emulator) ssmUpdateDescription(c call) (result, error) {
	r := c.params.reader()
	name := read(r, secretName)
	// Required, but may be set to "" to clear the description.
	if !c.params.has("Description") {
		r.check(missingParameter("Description"))
	}
	desc := read(r, description)
	if r.err != nil {
		return nil, r.err
	}
	return e.onSecret(c, name, "UpdateDescription", func(s *SecretState) (result, error) {
		s.Description = desc
		return result{"SecretName": name}, nil
	})
}

// ssmDeleteSecretVersion works in every status, as documented.
func (e *Emulator) ssmDeleteSecretVersion(c call) (result, error) {
	r := c.params.reader()
	name, vid := read(r, secretName), read(r, versionID)
	if r.err != nil {
		return nil, r.err
	}
	return e.onSecret(c, name, "", func(s *SecretState) (result, error) {
		i := s.version(vid)
		if i < 0 {
			return nil, versionNotFound(name, vid)
		}
		s.Versions = slices.Delete(s.Versions, i, i+1)
		c.rec.wrote(vid)
		return result{"SecretName": name, "VersionId": vid}, nil
	})
}

func (e *Emulator) ssmDisableSecret(c call) (result, error) {
	return e.setStatus(c, "DisableSecret", StatusDisabled)
}

func (e *Emulator) ssmEnableSecret(c call) (result, error) {
	return e.setStatus(c, "EnableSecret", StatusEnabled)
}

// setStatus switches between Enabled and Disabled; a secret scheduled for
// deletion must be restored first.
func (e *Emulator) setStatus(c call, action, status string) (result, error) {
	name, err := secretName(c.params)
	if err != nil {
		return nil, err
	}
	return e.onSecret(c, name, action, func(s *SecretState) (result, error) {
		s.Status = status
		return result{}, nil
	})
}

// ssmDeleteSecret deletes a Disabled secret now (RecoveryWindowInDays 0) or
// schedules the deletion (1 to 30 days, status PendingDelete).
func (e *Emulator) ssmDeleteSecret(c call) (result, error) {
	r := c.params.reader()
	name := read(r, secretName)
	days := r.integer("RecoveryWindowInDays", 0)
	if days < 0 || days > maxRecoveryDays {
		r.check(apiErrorf("InvalidParameterValue", "The parameter `RecoveryWindowInDays` must be between 0 and %d.", maxRecoveryDays))
	}
	if r.err != nil {
		return nil, r.err
	}
	return e.onSecret(c, name, "", func(s *SecretState) (result, error) {
		switch s.Status {
		case StatusPendingDelete:
			return nil, apiErrorf("OperationDenied", "The secret `%s` is already scheduled for deletion.", name)
		case StatusEnabled:
			return nil, apiErrorf("OperationDenied", "The secret `%s` must be disabled before it can be deleted.", name)
		}
		deleteAt := c.now.Add(time.Duration(days) * 24 * time.Hour)
		if days == 0 {
			delete(e.secrets, secretKey{c.region, name})
		} else {
			s.Status, s.DeleteTime = StatusPendingDelete, deleteAt
		}
		return result{"SecretName": name, "DeleteTime": deleteAt.Unix(), "FlowID": 0}, nil
	})
}

// ssmRestoreSecret cancels a scheduled deletion; the secret comes back
// Disabled, as documented.
func (e *Emulator) ssmRestoreSecret(c call) (result, error) {
	name, err := secretName(c.params)
	if err != nil {
		return nil, err
	}
	return e.onSecret(c, name, "", func(s *SecretState) (result, error) {
		if s.Status != StatusPendingDelete {
			return nil, apiErrorf("OperationDenied", "The secret `%s` is not scheduled for deletion.", name)
		}
		s.Status, s.DeleteTime = StatusDisabled, time.Time{}
		return result{"SecretName": name}, nil
	})
}

// stringValue is what the call log fingerprints of a write: SecretString
// values only.
func stringValue(value string, binary bool) string {
	if binary {
		return ""
	}
	return value
}

func versionNotFound(name, vid string) error {
	return apiErrorf("ResourceNotFound", "The version `%s` of the secret `%s` does not exist.", vid, name)
}
