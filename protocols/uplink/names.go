package uplink

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Names on the wire (see docs/architecture.md).
const (
	SubjectPrefix       = "fl.up."
	StatusSubjectPrefix = "fl.status."
	// HelloSubject is where a bridge says it takes batches: once it has
	// subscribed (at start and after every reconnection) and every
	// HelloInterval. The payload is empty; only its arrival counts. An
	// agent whose send failed tries again at once when it hears one,
	// instead of waiting out its backoff.
	HelloSubject     = "fl.bridge.hello"
	QueueGroup       = "fl-bridge"
	MQTTTopicPrefix  = "fl/up/"
	MQTTSharedFilter = "$share/fl-bridge/fl/up/+"
)

// HelloInterval is how often a bridge says hello besides when it
// subscribes: it bounds how long an agent that missed a hello (it was
// reconnecting itself) waits beyond its own backoff's next attempt.
const HelloInterval = 30 * time.Second

// Subject is the NATS subject an agent sends batches on.
func Subject(agentID string) string { return SubjectPrefix + agentID }

// StatusSubject is the NATS subject of an agent's heartbeats.
func StatusSubject(agentID string) string { return StatusSubjectPrefix + agentID }

// AgentFromSubject returns the agent id of fl.up.<id>, or "" when subject
// has another form.
func AgentFromSubject(subject string) string {
	id, ok := strings.CutPrefix(subject, SubjectPrefix)
	if !ok || CheckAgentID(id) != nil {
		return ""
	}
	return id
}

// CheckAgentID reports why id cannot be an agent id, or nil.
func CheckAgentID(id string) error {
	if id == "" {
		return fmt.Errorf("agent id is empty: %w", ErrAgentID)
	}
	if len(id) > 64 {
		return fmt.Errorf("agent id %q is longer than 64 characters: %w", id[:16]+"…", ErrAgentID)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("agent id %q has %q (allowed: letters, digits, - and _): %w", id, c, ErrAgentID)
		}
	}
	return nil
}

// Redact is urls (comma-separated) with any password in them replaced by
// "xxxxx", for logs and errors: nats://gw:secret@host:4222 is a valid URL.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			if err != nil && strings.Contains(p, "@") {
				parts[i] = "(an unparsable URL with credentials)"
			}
			continue
		}
		parts[i] = u.Redacted()
		if _, has := u.User.Password(); !has {
			// A token alone sits where the user does.
			u.User = url.User("xxxxx")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
