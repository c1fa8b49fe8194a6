package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/rules/signed"
)

// demoFleet is the name of the demo agents' fleet.
const demoFleet = "demo"

// demoBundle is the rule bundle the demo pushes to its fleet at start, so
// that the dashboard's fleet view shows every agent running it: a light
// deadband on the meter's voltage (the other sensors report every reading).
const demoBundle = `# pushed by fieldline-cloud demo to fleet.demo
version: demo-1
name: demo
rules:
  - match: meter.voltage
    deadband: {absolute: 0.05}
`

// startFleet makes a signing key in dir, runs the fleet server (the
// registry of agents, the canary controller) on the demo's NATS and pushes
// demoBundle, signed, to fleet.demo: the agents, which trust the key, run
// it as soon as they start, and `fieldline-cloud fleet rules push ...
// --fleet demo --key FILE` pushes another. It returns the key file, the
// public key in the inline form the agents' configs trust, and a stop
// function.
func startFleet(o Options, natsURL string) (keyFile, trusted string, stop func(), err error) {
	pub, priv, err := signed.GenerateKey()
	if err != nil {
		return "", "", nil, fmt.Errorf("making the demo's fleet key: %w", err)
	}
	keyFile = filepath.Join(o.Dir, "fleet.key")
	if err := signed.WritePrivateKey(keyFile, priv); err != nil {
		return "", "", nil, err
	}
	cfg := fleet.Config{NATS: uplink.NATSConfig{URL: natsURL}}
	srv, err := fleet.NewServer(cfg, fleet.ServerOptions{Logger: o.Log.With("component", "fleet"), Ring: signed.NewKeyRing(pub)})
	if err != nil {
		return "", "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stop = func() { cancel(); <-done }
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return "", "", nil, fmt.Errorf("fleet server: %w", err)
	}
	if err := pushBundle(natsURL, priv); err != nil {
		stop()
		return "", "", nil, err
	}
	return keyFile, signed.FormatPublicKey(pub), stop, nil
}

// pushBundle pushes demoBundle to fleet.demo.
func pushBundle(natsURL string, key []byte) error {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return fmt.Errorf("pushing the demo's rules: %w", err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sig := signed.NewSigner(key)
	store, err := fleet.OpenStore(ctx, nc, fleet.Config{}, signed.NewKeyRing(sig.Public()))
	if err != nil {
		return fmt.Errorf("pushing the demo's rules: %w", err)
	}
	if _, err := store.Push(ctx, sig, fleet.Push{Key: signed.FleetKey(demoFleet), Bundle: []byte(demoBundle), Signer: "fieldline-cloud demo", Note: "the demo's rules"}); err != nil {
		return fmt.Errorf("pushing the demo's rules: %w", err)
	}
	return nil
}
