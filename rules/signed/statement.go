package signed

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Statement is what a signature covers: the rule bundle, the key it is for,
// its revision and who signed it when. Every field is inside the signed
// bytes, so none can be changed, and a statement is valid only under the
// key it names.
type Statement struct {
	// Key is the bucket key the statement is for (FleetKey, AgentKey or
	// CanaryKey).
	Key string `json:"key"`
	// Revision is chosen by the push tool from one counter for the whole
	// bucket: every push gets a higher number than every push before it.
	// An agent takes a statement from a key only when its revision is
	// above the last one it took from that key (ErrReplay otherwise).
	Revision uint64 `json:"revision"`
	// KeyID names the signing key (KeyID of its public half).
	KeyID string `json:"key_id"`
	// SignedAt is when the push tool signed it.
	SignedAt time.Time `json:"signed_at"`
	// Signer says who pushed (user@host), for people; Note why (a
	// rollback, a promotion).
	Signer string `json:"signer,omitempty"`
	Note   string `json:"note,omitempty"`
	// Clear says the key holds no bundle any more: an agent's override is
	// removed, a canary ended. Deleting a key in the bucket is not signed
	// and agents ignore it; a clear is how a key is emptied.
	Clear bool `json:"clear,omitempty"`
	// Bundle is the rule bundle (YAML, see package rules); empty exactly
	// when Clear.
	Bundle string `json:"bundle,omitempty"`
	// Canary selects the agents of the fleet that run a canary key's
	// bundle; set exactly on canary keys that are not clear.
	Canary *Canary `json:"canary,omitempty"`
}

// Check lists what is wrong with the statement's shape, or returns nil.
// Sign and Open call it.
func (s *Statement) Check() error {
	var errs []string
	prefix, _, err := SplitKey(s.Key)
	if err != nil {
		errs = append(errs, err.Error())
	}
	if s.Revision == 0 {
		errs = append(errs, "revision must be > 0")
	}
	if s.KeyID == "" {
		errs = append(errs, "no key_id")
	}
	if s.SignedAt.IsZero() {
		errs = append(errs, "no signed_at")
	}
	switch {
	case s.Clear && s.Bundle != "":
		errs = append(errs, "both clear and a bundle")
	case !s.Clear && s.Bundle == "":
		errs = append(errs, "neither a bundle nor clear")
	}
	switch {
	case prefix == PrefixCanary && !s.Clear && s.Canary == nil:
		errs = append(errs, "a canary bundle without its canary selection")
	case s.Canary != nil && (prefix != PrefixCanary || s.Clear):
		errs = append(errs, "a canary selection outside a canary bundle")
	case s.Canary != nil:
		if err := s.Canary.Check(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("statement: %s", strings.Join(errs, "; "))
	}
	return nil
}

// String names the statement for logs and errors: "fleet.boiler@12".
func (s *Statement) String() string { return s.Key + "@" + strconv.FormatUint(s.Revision, 10) }

// Canary selects a subset of a fleet's agents: those whose hash bucket
// falls under Percent (a fixed hash of the agent id, so the same agents are
// chosen every time for the same percentage, and a larger percentage takes
// a superset) and whose labels hold every pair of Selector. Both must hold
// when both are set.
type Canary struct {
	// Percent of the fleet, 0 < Percent ≤ 100, in steps of 0.01; 0 means
	// every agent the Selector matches.
	Percent float64 `json:"percent,omitempty"`
	// Selector: label name → value, all of which an agent must have.
	Selector map[string]string `json:"selector,omitempty"`
}

// Check says what is wrong with a selection.
func (c *Canary) Check() error {
	if c.Percent < 0 || c.Percent > 100 || c.Percent != c.Percent {
		return fmt.Errorf("canary percent %v: want 0 < percent ≤ 100", c.Percent)
	}
	if c.Percent == 0 && len(c.Selector) == 0 {
		return fmt.Errorf("canary selects every agent: give a percent or a selector")
	}
	for k, v := range c.Selector {
		if err := CheckLabel(k); err != nil {
			return fmt.Errorf("canary selector: %w", err)
		}
		if err := CheckLabel(v); err != nil {
			return fmt.Errorf("canary selector %s: %w", k, err)
		}
	}
	return nil
}

// Includes reports whether the agent takes part in the canary.
func (c *Canary) Includes(agentID string, labels map[string]string) bool {
	if c == nil {
		return false
	}
	for k, v := range c.Selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return c.Percent == 0 || float64(Bucket(agentID)) < c.Percent*100
}

// String is the selection as the push tool's flags say it: "10%",
// "ring=early", "5% ring=early,site=a".
func (c *Canary) String() string {
	if c == nil {
		return ""
	}
	var parts []string
	if c.Percent > 0 {
		parts = append(parts, strconv.FormatFloat(c.Percent, 'f', -1, 64)+"%")
	}
	if len(c.Selector) > 0 {
		var sel []string
		for _, k := range slices.Sorted(maps.Keys(c.Selector)) {
			sel = append(sel, k+"="+c.Selector[k])
		}
		parts = append(parts, strings.Join(sel, ","))
	}
	return strings.Join(parts, " ")
}

// Bucket is the agent's place in 0..9999 for canary percentages: the first
// four bytes of SHA-256("fieldline-canary\x00" + agentID), modulo 10,000.
// Agents and the cloud compute it alike.
func Bucket(agentID string) uint32 {
	h := sha256.Sum256([]byte("fieldline-canary\x00" + agentID))
	return binary.BigEndian.Uint32(h[:4]) % 10000
}

// Resolve picks the statement an agent runs among the latest verified ones
// of its three keys (nil when the key holds none): its own key unless
// cleared, else the fleet's canary when the agent is selected, else the
// fleet's bundle. nil means no bundle is meant for it.
func Resolve(agentID string, labels map[string]string, agent, canary, fleet *Statement) *Statement {
	if agent != nil && !agent.Clear {
		return agent
	}
	if canary != nil && !canary.Clear && canary.Canary.Includes(agentID, labels) {
		return canary
	}
	if fleet != nil && !fleet.Clear {
		return fleet
	}
	return nil
}
