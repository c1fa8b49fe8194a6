package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/rules"
)

// lastGoodBlob names the buffer blob that holds the bytes of the last rule
// bundle that compiled: a bundle file broken on disk (a bad edit, a half
// copied file) then costs the gateway its new rules, never its rules.
const lastGoodBlob = "rules.last-good"

// RulesEventSensor is the sensor id of rule-status events on the event lane.
const RulesEventSensor = "_agent.rules"

// RulesEvent is the Text of a rule-status event (JSON): one is appended to
// the event lane whenever the agent applies or rejects a bundle, so the
// cloud sees which rules produced the data that follows, ahead of the
// telemetry backlog.
type RulesEvent struct {
	Event   string `json:"event"`            // applied or rejected
	Source  string `json:"source,omitempty"` // file, fleet (a pushed bundle) or last-good (applied)
	File    string `json:"file,omitempty"`
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"` // rejected: every problem found
	// Key and Revision name a pushed bundle (fleet rule sync): source
	// fleet, or last-good when the agent started with the one it kept.
	Key      string `json:"key,omitempty"`
	Revision uint64 `json:"revision,omitempty"`
}

// compileRulesFile reads and compiles the bundle file.
func compileRulesFile(file string) (*rules.Program, []byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("reading rule bundle: %w", err)
	}
	prog, err := rules.Compile(file, data)
	if err != nil {
		return nil, nil, err
	}
	return prog, data, nil
}

// startupRules compiles rules.file for the start. When it does not
// compile, the agent runs the last good bundle kept in the buffer file, or,
// when there is none, no rules at all (every reading is forwarded as read):
// either way it collects, and the error is logged, reported in the status
// and sent as a rule-status event.
func (a *Agent) startupRules() *rules.Program {
	if a.sync != nil {
		// A pushed bundle that ran before takes the place of the file.
		if prog := a.sync.restore(); prog != nil {
			return prog
		}
	}
	file := a.cfg.Rules.File
	if file == "" {
		return nil
	}
	prog, data, err := compileRulesFile(file)
	if err == nil {
		a.rulesApplied(prog, data, "file")
		return prog
	}
	a.rulesRejected(err)
	good, berr := a.buf.Blob(lastGoodBlob)
	if berr != nil {
		a.log.Error("reading the last good rule bundle", "err", berr)
	}
	if len(good) > 0 {
		if prog, lerr := rules.Compile("last good bundle", good); lerr == nil {
			a.log.Error("rule bundle rejected at start; running the last good bundle", "file", file, "name", prog.Name(), "version", prog.Version(), "err", err)
			a.rulesEvent(RulesEvent{Event: "applied", Source: "last-good", Name: prog.Name(), Version: prog.Version()})
			return prog
		} else {
			a.log.Error("the last good rule bundle no longer compiles", "err", lerr)
		}
	}
	a.log.Error("rule bundle rejected at start and no good bundle is stored; running without rules (every reading is forwarded)", "file", file, "err", err)
	return nil
}

// rulesApplied records a bundle that compiled: the status clears its
// error, the buffer keeps its bytes as the last good bundle and the event
// lane gets an event.
func (a *Agent) rulesApplied(prog *rules.Program, data []byte, source string) {
	a.mu.Lock()
	a.rulesErr = ""
	a.mu.Unlock()
	if old, err := a.buf.Blob(lastGoodBlob); err != nil || !bytes.Equal(old, data) {
		if err := a.buf.PutBlob(lastGoodBlob, data); err != nil {
			a.log.Error("storing the rule bundle as the last good one", "err", err)
		}
	}
	a.rulesEvent(RulesEvent{Event: "applied", Source: source, File: a.cfg.Rules.File, Name: prog.Name(), Version: prog.Version()})
}

// rulesRejected records a bundle that did not compile.
func (a *Agent) rulesRejected(err error) {
	a.mu.Lock()
	a.rulesErr = err.Error()
	a.mu.Unlock()
	a.rulesEvent(RulesEvent{Event: "rejected", File: a.cfg.Rules.File, Error: err.Error()})
}

// rulesEvent appends a rule-status event to the event lane (value 1
// applied, 0 rejected).
func (a *Agent) rulesEvent(ev RulesEvent) {
	text, _ := json.Marshal(ev)
	v := 0.0
	if ev.Event == "applied" {
		v = 1
	}
	rs := []fieldline.Reading{{TimeNs: a.now().UnixNano(), Value: v, SensorID: RulesEventSensor, Text: string(text), Kind: fieldline.KindEvent}}
	a.clock.stamp(rs)
	if err := a.buf.Append(fieldline.LaneEvent, rs); err != nil {
		a.log.Error("appending rule-status event", "event", ev.Event, "err", err)
	}
}

// ReloadRules reads and compiles the rule bundle file again and swaps it in
// between two readings; state carries over for sensors whose rules did not
// change. A bundle that does not compile never replaces the running one: the
// error is returned, logged, sent as a rule-status event and reported in
// the heartbeat until a good bundle is loaded. `fieldline-agent run` calls
// it on SIGHUP.
func (a *Agent) ReloadRules() error {
	file := a.cfg.Rules.File
	if file == "" {
		return fmt.Errorf("reloading rules: no rules.file in the config")
	}
	if a.sync != nil {
		if v := a.sync.view(); v.FromTheBucket {
			return fmt.Errorf("reloading rules: the agent runs the pushed bundle %s@%d; %s is used only until a pushed bundle applies", v.Key, v.Revision, file)
		}
	}
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	prog, data, err := compileRulesFile(file)
	if err != nil {
		a.rulesRejected(err)
		a.log.Error("rule bundle rejected; the running rules stay", "file", file, "err", err)
		return fmt.Errorf("reloading rules: %w", err)
	}
	a.engine.Swap(prog)
	a.rulesApplied(prog, data, "file")
	a.log.Info("rules reloaded", "file", file, "name", prog.Name(), "version", prog.Version())
	return nil
}
