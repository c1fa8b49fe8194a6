package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Silence mutes the notifications of the alerts its matchers all match,
// from StartsAt until EndsAt. Silences live in a compacted Kafka topic
// (key the ID, value this JSON; a tombstone removes one), so they survive
// restarts, every notifier of a group sees the same, and no other store is
// needed beside the Kafka the system already runs.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	Comment   string    `json:"comment,omitempty"`
}

// Matcher matches a label: its value against a glob (path.Match: `*` any
// run, `?` one character, `[a-z]` a class); "name=value" in the CLI.
type Matcher struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (m Matcher) String() string { return m.Name + "=" + m.Value }

// ParseMatcher reads "name=glob".
func ParseMatcher(s string) (Matcher, error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return Matcher{}, fmt.Errorf("matcher %q: want name=value (a glob)", s)
	}
	if _, err := path.Match(value, ""); err != nil {
		return Matcher{}, fmt.Errorf("matcher %q: %w", s, err)
	}
	return Matcher{Name: name, Value: value}, nil
}

// Matches reports whether the silence mutes an alert with these labels at
// time at.
func (s *Silence) Matches(labels map[string]string, at time.Time) bool {
	if at.Before(s.StartsAt) || !at.Before(s.EndsAt) || len(s.Matchers) == 0 {
		return false
	}
	for _, m := range s.Matchers {
		ok, _ := path.Match(m.Value, labels[m.Name])
		if !ok {
			return false
		}
	}
	return true
}

// NewSilenceID returns a random silence id.
func NewSilenceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// PutSilence writes s to the silences topic.
func PutSilence(ctx context.Context, cl *kgo.Client, topic string, s Silence) error {
	if s.ID == "" || len(s.Matchers) == 0 || !s.EndsAt.After(s.StartsAt) {
		return fmt.Errorf("silence %q: needs an id, a matcher and an end after its start", s.ID)
	}
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(s.ID), Value: v}).FirstErr(); err != nil {
		return fmt.Errorf("writing silence %s: %w", s.ID, err)
	}
	return nil
}

// DeleteSilence writes a tombstone for id.
func DeleteSilence(ctx context.Context, cl *kgo.Client, topic, id string) error {
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(id)}).FirstErr(); err != nil {
		return fmt.Errorf("removing silence %s: %w", id, err)
	}
	return nil
}

// silenceSet is the silences as read from the topic.
type silenceSet struct {
	mu sync.RWMutex
	m  map[string]Silence
}

func newSilenceSet() *silenceSet { return &silenceSet{m: map[string]Silence{}} }

// apply takes one record of the silences topic.
func (s *silenceSet) apply(r *kgo.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := string(r.Key)
	if r.Value == nil {
		delete(s.m, id)
		return nil
	}
	var sl Silence
	if err := json.Unmarshal(r.Value, &sl); err != nil {
		return fmt.Errorf("silence %s: %w", id, err)
	}
	s.m[id] = sl
	return nil
}

// silenced returns the id of a silence that mutes labels at at.
func (s *silenceSet) silenced(labels map[string]string, at time.Time) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for id, sl := range s.m {
		if sl.Matches(labels, at) {
			return id, true
		}
	}
	return "", false
}

// list returns the silences by end.
func (s *silenceSet) list() []Silence {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Silence, 0, len(s.m))
	for _, sl := range s.m {
		out = append(out, sl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EndsAt.Before(out[j].EndsAt) })
	return out
}
