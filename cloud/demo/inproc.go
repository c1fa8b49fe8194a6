package demo

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fieldline/fieldline/agent"
	"github.com/fieldline/fieldline/firmware-sim/gpiosim"
)

// inprocAgent is an agent run in this process with simulated GPIO pins:
// periph's pins live in the process that registers them, so the agent that
// reads them must run where the simulator does.
type inprocAgent struct {
	cancel context.CancelFunc
	done   chan struct{}
	sim    *gpiosim.Sim
}

func startInprocAgent(o Options, id, cfgText string) (*inprocAgent, error) {
	dir := filepath.Join(o.Dir, id)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o640); err != nil {
		return nil, err
	}
	scfg, err := gpiosim.LoadConfig("")
	if err != nil {
		return nil, err
	}
	sim, err := gpiosim.New(scfg, gpiosim.Options{})
	if err != nil {
		return nil, err
	}
	if err := sim.Register(); err != nil {
		return nil, err
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		sim.Unregister()
		return nil, err
	}
	a, err := agent.New(*cfg, agent.Options{Logger: o.Log.With("component", "agent", "agent", id), Version: "demo"})
	if err != nil {
		sim.Unregister()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &inprocAgent{cancel: cancel, done: make(chan struct{}), sim: sim}
	simDone := make(chan struct{})
	go func() { defer close(simDone); _ = sim.Run(ctx, 10*time.Millisecond) }()
	go func() {
		defer close(p.done)
		if err := a.Run(ctx); err != nil {
			o.Log.Warn("agent stopped with an error", "agent", id, "err", err)
		}
		<-simDone
	}()
	return p, nil
}

func (p *inprocAgent) stop() {
	p.cancel()
	<-p.done
	p.sim.Unregister()
}
