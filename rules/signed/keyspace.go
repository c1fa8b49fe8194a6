package signed

import (
	"fmt"
	"strings"
)

// The keys of the rule bucket (fl_rules). A statement names the key it was
// signed for, so that it is refused under any other.
const (
	PrefixFleet  = "fleet."  // fleet.<fleet>: every agent of the fleet
	PrefixAgent  = "agent."  // agent.<agent_id>: one agent; overrides its fleet's
	PrefixCanary = "canary." // canary.<fleet>: the fleet's agents its Canary selects
)

// FleetKey is the key of a fleet's bundle.
func FleetKey(fleet string) string { return PrefixFleet + fleet }

// AgentKey is the key of one agent's own bundle.
func AgentKey(agentID string) string { return PrefixAgent + agentID }

// CanaryKey is the key of a fleet's canary bundle.
func CanaryKey(fleet string) string { return PrefixCanary + fleet }

// SplitKey returns the prefix (PrefixFleet, PrefixAgent or PrefixCanary)
// and the name of a bucket key, or an error naming what is wrong with it.
func SplitKey(key string) (prefix, name string, err error) {
	for _, p := range []string{PrefixFleet, PrefixAgent, PrefixCanary} {
		if n, ok := strings.CutPrefix(key, p); ok {
			if err := CheckName(n); err != nil {
				return "", "", fmt.Errorf("key %q: %w", key, err)
			}
			return p, n, nil
		}
	}
	return "", "", fmt.Errorf("key %q: want fleet.<fleet>, agent.<agent_id> or canary.<fleet>", key)
}

// CheckName checks a fleet name or an agent id: 1 to 64 letters, digits,
// '-' and '_' (one NATS subject token, as agent ids are everywhere).
func CheckName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("name %q: want 1 to 64 characters", name)
	}
	for _, c := range name {
		if !isNameChar(c) {
			return fmt.Errorf("name %q: character %q is not a letter, digit, '-' or '_'", name, c)
		}
	}
	return nil
}

func isNameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// CheckLabel checks a label name or value of an agent (agent.labels) or a
// canary selector: 1 to 64 letters, digits, '-', '_' and '.'.
func CheckLabel(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("label %q: want 1 to 64 characters", s)
	}
	for _, c := range s {
		if !isNameChar(c) && c != '.' {
			return fmt.Errorf("label %q: character %q is not a letter, digit, '-', '_' or '.'", s, c)
		}
	}
	return nil
}
