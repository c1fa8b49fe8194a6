package agent

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/rules"
)

// TestPipelineTicksOnlyWhileTheRulesNeedIt: with rules that need no ticks
// the pipeline's ticker runs once a minute (the clock's look), with an
// alert that has a `for` every tick, and it follows each Swap (issue 19:
// the 250 ms tick was four of an idle agent's six wakeups a second).
func TestPipelineTicksOnlyWhileTheRulesNeedIt(t *testing.T) {
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "buffer.db"), &buffer.Options{AgentID: "gw-pace", NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	log := slog.New(slog.DiscardHandler)
	m := NewMetrics(nil)
	start := time.Now()
	clock := newClockGuard(time.Unix(0, 0), time.Now, func() time.Duration { return time.Since(start) }, log, m, nil)
	engine := rules.NewEngine(nil, rules.Options{})
	p := newPipeline(engine, buf, clock, log, m, time.Now)
	stopped, done := make(chan struct{}), make(chan struct{})
	go func() { defer close(done); p.run(stopped) }()
	defer func() { close(stopped); <-done }()

	period := func(want time.Duration, what string) {
		t.Helper()
		testkit.WaitFor(t, 10*time.Second, "the ticker every "+want.String()+" "+what, func() bool { return time.Duration(p.period.Load()) == want })
	}
	compile := func(rule string) *rules.Program {
		t.Helper()
		prog, err := rules.Compile("t.yaml", []byte("version: v1\nname: t\nrules:\n  - match: s\n"+rule))
		if err != nil {
			t.Fatal(err)
		}
		return prog
	}
	period(clockLookEvery, "with pass-through rules")
	engine.Swap(compile("    alerts:\n      - {name: warm, above: 50, for: 1m}\n"))
	period(p.tick, "with an alert that has a for")
	engine.Swap(compile("    deadband: {absolute: 1}\n"))
	period(clockLookEvery, "with a deadband only")
}
