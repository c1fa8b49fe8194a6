package confkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
)

// ErrReadable means a file that holds a secret (a config with a password or
// token in it, a key, a creds file) can be read by its group or by others.
var ErrReadable = errors.New("file holding a secret is readable by group or others")

// Secret is a config value that must never be shown: a password, a token.
// It prints, logs and marshals as "[redacted]" (empty when unset); Reveal
// gives the value to the one caller that needs it. A config file in which
// a Secret is set must be private to its owner: Load refuses it otherwise.
type Secret string

const redacted = "[redacted]"

// Reveal is the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON hides the value from JSON (status pages, heartbeats).
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText hides the value from YAML and other text encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// CheckPrivate returns an error wrapping ErrReadable, naming path and its
// mode, when path can be read by others, or by its group while that group
// is not the process's own. The one exception keeps the usual service
// layout: root owns /etc/fieldline/agent.creds, mode 0640, group fieldline,
// and the agent runs as group fieldline, so that it can read its secrets
// but not change them.
func CheckPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	m := fi.Mode().Perm()
	if m&0o007 == 0 && (m&0o070 == 0 || ownGroup(fi)) {
		return nil
	}
	return fmt.Errorf("%s has mode %04o: %w (it holds a secret: chmod 600 %s, or 640 with the service's own group)", path, m, ErrReadable, path)
}

// hasSecret reports whether v (a struct, pointer, slice or map of them)
// holds a non-empty Secret.
func hasSecret(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil() && hasSecret(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && hasSecret(v.Field(i)) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if hasSecret(v.Index(i)) {
				return true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if hasSecret(it.Value()) {
				return true
			}
		}
	case reflect.String:
		return v.Type() == reflect.TypeFor[Secret]() && v.Len() > 0
	}
	return false
}
