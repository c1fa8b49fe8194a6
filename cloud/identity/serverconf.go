package identity

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// ServerConfig is a nats-server configuration for this operator: the
// operator JWT, the system account, a full resolver in <dir>/jwt with the
// three accounts preloaded (a server keeps the newer of a preloaded and a
// pushed JWT), and JetStream in <dir>/jetstream. Listen addresses and TLS
// are the operator's to add (include this file from the main one).
func (a *Authority) ServerConfig() (string, error) {
	var b strings.Builder
	q := strconv.Quote
	fmt.Fprintf(&b, "# Fieldline's NATS operator (written by fieldline-cloud fleet authority).\n")
	fmt.Fprintf(&b, "operator: %s\n", q(filepath.Join(a.Dir, operatorJWT)))
	fmt.Fprintf(&b, "system_account: %s\n", a.sys.pub())
	fmt.Fprintf(&b, "resolver: {\n  type: full\n  dir: %s\n  allow_delete: false\n  interval: \"2m\"\n}\n", q(filepath.Join(a.Dir, "jwt")))
	fmt.Fprintf(&b, "resolver_preload: {\n")
	for _, acc := range a.accounts() {
		token, err := acc.claims.Encode(a.operator)
		if err != nil {
			return "", fmt.Errorf("signing account JWT %s: %w", acc.name, err)
		}
		fmt.Fprintf(&b, "  # %s\n  %s: %s\n", acc.name, acc.pub(), q(token))
	}
	fmt.Fprintf(&b, "}\n")
	fmt.Fprintf(&b, "jetstream: {\n  store_dir: %s\n}\n", q(filepath.Join(a.Dir, "jetstream")))
	return b.String(), nil
}

func (a *Authority) writeServerConfig() error {
	conf, err := a.ServerConfig()
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(a.Dir, ServerConfigFile), []byte(conf), 0o644)
}
