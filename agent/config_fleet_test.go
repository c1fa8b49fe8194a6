package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFleetConfigProblems: every problem of the rule sync's keys is
// listed with its path.
func TestFleetConfigProblems(t *testing.T) {
	dir := t.TempDir()
	pub := filepath.Join(dir, "fleet.pub")
	if err := os.WriteFile(pub, []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, yaml string
		want       []string // lines of the error; none: no error
	}{
		{"fleet with a file key and an inline key", "agent: {id: gw, fleet: boiler, labels: {ring: early, site: a.b}}\nrules: {trusted_keys: [" + pub + ", \"ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\"]}\n", nil},
		{"agent key only, no fleet", "agent: {id: gw}\nrules: {trusted_keys: [" + pub + "]}\n", nil},
		{"every problem at once",
			"agent: {id: gw, fleet: 'boiler rooms', labels: {'ring/x': early, site: 'a b'}}\nrules: {trusted_keys: [" + filepath.Join(dir, "missing.pub") + ", 'ed25519:AAAA'], bucket: 'fl.rules'}\n",
			[]string{
				`agent.fleet: name "boiler rooms": character ' ' is not a letter, digit, '-' or '_'`,
				`agent.labels: label "ring/x": character '/' is not`,
				`agent.labels.site: label "a b": character ' ' is not`,
				`rules.trusted_keys[0]: unusable key file: open `,
				`rules.trusted_keys[1]: unusable key file: inline key has 3 bytes, want 32`,
				`rules.bucket: bucket "fl.rules": character '.' is not`,
			}},
		{"fleet without a trusted key", "agent: {id: gw, fleet: boiler}\n",
			[]string{"rules.trusted_keys: agent.fleet is set but no key is trusted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			err := decodeConfig("agent.yaml", []byte(tc.yaml), &cfg)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}
