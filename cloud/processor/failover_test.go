package processor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"go.yaml.in/yaml/v3"

	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// buildCloud builds fieldline-cloud into dir.
func buildCloud(t *testing.T) string {
	t.Helper()
	root, err := agentrun.Root()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "fieldline-cloud")
	cmd := exec.Command("go", "build", "-o", bin, "./cloud/cmd/fieldline-cloud")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building fieldline-cloud: %v\n%s", err, out)
	}
	return bin
}

// consumed is how many records of the readings topic the group committed.
func (c *cluster) consumed(t *testing.T, group string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.admin(t).FetchOffsets(kadm.RequireStable(ctx), group)
	if err != nil {
		return 0
	}
	var n int64
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil {
			n += o.At
		}
	})
	return n
}

// TestFailover runs three processor processes in one group over six
// partitions, SIGKILLs one mid-stream and then a second, and checks with a
// read_committed consumer that the final aggregates equal both the test's
// own computation and a run with no failure: no window missing, none
// counted twice, no reading deduplicated wrongly. Against kfake in `make
// test`, against Apache Kafka in `make test-kafka`.
func TestFailover(t *testing.T) {
	bin := buildCloud(t)
	c := startCluster(t, 6)
	s := genStream(24, 10, 400, true)
	c.produce(t, s)
	total := int64(len(s.recs))
	want := expected(s, testSizes)

	cfg := c.config("failover")
	// Small transactions so that the stream takes long enough to kill
	// processors in the middle of it.
	cfg.MaxPollRecords = 1000
	dir := t.TempDir()
	var procs []*agentrun.Process
	for i := range 3 {
		file := map[string]any{"processor": cfg, "http": map[string]string{"listen": "127.0.0.1:0"}, "log": map[string]string{"level": "info"}}
		b, err := yaml.Marshal(file)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("p%d.yaml", i))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, agentrun.Start(t, bin, []string{"process", "--config", path}, agentrun.Options{}))
	}
	for i, p := range procs {
		line, _, err := p.WaitLine(time.Minute, "processor http")
		if err != nil {
			t.Fatalf("processor %d: %v", i, err)
		}
		addr := strings.TrimPrefix(agentrun.Field(line, "http"), "http://")
		testkit.WaitFor(t, time.Minute, "processor /readyz", func() bool {
			code, _, err := agentrun.Get(addr, "/readyz")
			return err == nil && code == 200
		})
		if code, _, err := agentrun.Get(addr, "/healthz"); err != nil || code != 200 {
			t.Fatalf("processor %d /healthz: %d %v", i, code, err)
		}
		_, exp, err := agentrun.Get(addr, "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := agentrun.Metric(exp, "fieldline_processor_partitions"); !ok {
			t.Fatalf("processor %d /metrics has no fieldline_processor_partitions", i)
		}
	}
	// The reference: one processor, no failure, its own group and outputs.
	runProcessor(t, c.config("reference"))

	waitConsumed := func(frac float64) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for c.consumed(t, cfg.Kafka.Group) < int64(frac*float64(total)) {
			if time.Now().After(deadline) {
				t.Fatalf("the group consumed %d of %d records in 3 minutes", c.consumed(t, cfg.Kafka.Group), total)
			}
			time.Sleep(50 * time.Millisecond) // polling the group's progress
		}
	}
	waitConsumed(0.25)
	t.Logf("SIGKILL processor 0 at %d of %d records", c.consumed(t, cfg.Kafka.Group), total)
	if err := procs[0].Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitConsumed(0.6)
	t.Logf("SIGKILL processor 1 at %d of %d records", c.consumed(t, cfg.Kafka.Group), total)
	if err := procs[1].Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	got := c.finalAggregates(t, "failover", len(want), 5*time.Minute)
	compare(t, got, want)
	ref := c.finalAggregates(t, "reference", len(want), 2*time.Minute)
	for k, a := range ref {
		if b := got[k]; !sameValues(a, b) || a.Close != b.Close {
			t.Fatalf("window %s: %+v after failures, %+v without", k, b, a)
		}
	}
	t.Logf("%d readings, %d windows equal with and without failures", total, len(want))
}
