package agent

import (
	"crypto/ed25519"
	"fmt"
	"maps"
	"slices"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/rules/signed"
)

// checkFleet lists the problems of the fleet rule sync's keys: agent.fleet,
// agent.labels, rules.trusted_keys and rules.bucket.
func (c *Config) checkFleet(p *confkit.Problems) {
	if c.Agent.Fleet != "" {
		if err := signed.CheckName(c.Agent.Fleet); err != nil {
			p.Add("agent.fleet", "%v", err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Agent.Labels)) {
		if err := signed.CheckLabel(k); err != nil {
			p.Add("agent.labels", "%v", err)
		}
		if err := signed.CheckLabel(c.Agent.Labels[k]); err != nil {
			p.Add("agent.labels."+k, "%v", err)
		}
	}
	for i, ref := range c.Rules.TrustedKeys {
		if _, err := signed.LoadPublicKey(ref); err != nil {
			p.At("rules.trusted_keys", i).Add("", "%v", err)
		}
	}
	if c.Agent.Fleet != "" && len(c.Rules.TrustedKeys) == 0 {
		p.Add("rules.trusted_keys", "agent.fleet is set but no key is trusted: the agent would refuse every pushed bundle")
	}
	if err := checkBucket(c.Rules.Bucket); err != nil {
		p.Add("rules.bucket", "%v", err)
	}
}

// checkBucket checks a JetStream KV bucket name: letters, digits, - and _.
func checkBucket(name string) error {
	if name == "" {
		return fmt.Errorf("empty bucket name")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("bucket %q: character %q is not a letter, digit, '-' or '_'", name, c)
		}
	}
	return nil
}

// trustedKeys loads rules.trusted_keys (checked by Check).
func (c *Config) trustedKeys() (*signed.KeyRing, error) {
	var keys []ed25519.PublicKey
	for _, ref := range c.Rules.TrustedKeys {
		k, err := signed.LoadPublicKey(ref)
		if err != nil {
			return nil, fmt.Errorf("rules.trusted_keys: %w", err)
		}
		keys = append(keys, k)
	}
	return signed.NewKeyRing(keys...), nil
}
