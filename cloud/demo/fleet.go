package demo

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/rules/signed"
)

// demoFleet is the name of the demo agents' fleet.
const demoFleet = "demo"

// startFleet makes a signing key in dir and runs the fleet server (the
// registry of agents, the canary controller) on the demo's NATS, so that
// `fieldline-cloud fleet rules push ... --fleet demo` reaches the demo's
// agents. It returns the key file, the public key in the inline form the
// agents' configs trust, and a stop function.
func startFleet(o Options, natsURL string) (keyFile, trusted string, stop func(), err error) {
	pub, priv, err := signed.GenerateKey()
	if err != nil {
		return "", "", nil, fmt.Errorf("making the demo's fleet key: %w", err)
	}
	keyFile = filepath.Join(o.Dir, "fleet.key")
	if err := signed.WritePrivateKey(keyFile, priv); err != nil {
		return "", "", nil, err
	}
	srv, err := fleet.NewServer(fleet.Config{NATS: uplink.NATSConfig{URL: natsURL}},
		fleet.ServerOptions{Logger: o.Log.With("component", "fleet"), Ring: signed.NewKeyRing(pub)})
	if err != nil {
		return "", "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return "", "", nil, fmt.Errorf("fleet server: %w", err)
	}
	return keyFile, signed.FormatPublicKey(pub), func() { cancel(); <-done }, nil
}
