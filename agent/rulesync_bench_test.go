package agent

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline/internal/retry"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/rules"
	"github.com/fieldline/fieldline/rules/signed"
)

// memBlobs keeps the rule sync's state in memory: the benchmark measures
// the fleet path (KV watch, verify, compile, swap), not 1,000 fsyncs on
// one disk that in the field are one per gateway (~0.5 ms each).
type memBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *memBlobs) PutBlob(name string, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[name] = append([]byte(nil), data...)
	return nil
}

func (b *memBlobs) Blob(name string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m[name], nil
}

// BenchmarkRuleSyncPush measures push → applied: the time from the fleet
// tool's write of a signed bundle to fleet.<fleet> until each of 1,000
// simulated agents has verified, compiled and swapped it into its rule
// engine. Each simulated agent is the real rule sync (ruleSync: its own
// KV watch, verification, compile, swap into a rules.Engine), without the
// rest of the agent, all against one embedded NATS server with JetStream.
// conn=own gives each agent its own NATS connection, as gateways have;
// conn=shared puts every watch on one connection. One iteration is one
// push; the percentiles are over every (agent, push).
//
//	go test -run '^$' -bench BenchmarkRuleSyncPush -benchtime 20x ./agent/
func BenchmarkRuleSyncPush(b *testing.B) {
	for _, shared := range []bool{false, true} {
		name := "conn=own"
		if shared {
			name = "conn=shared"
		}
		b.Run(fmt.Sprintf("agents=1000/%s", name), func(b *testing.B) { benchPush(b, 1000, shared) })
	}
}

func benchPush(b *testing.B, n int, shared bool) {
	ns := testkit.NATS(b)
	bucket := newTestBucket(b, ns.URL())
	ring := signed.NewKeyRing(bucket.sig.Public())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	var (
		mu      sync.Mutex
		applied = map[uint64][]time.Time{} // revision → when each agent applied it
		cond    = sync.NewCond(&mu)
	)
	var sharedConn *nats.Conn
	if shared {
		sharedConn = benchConn(b, ns.URL())
	}
	syncs := make([]*ruleSync, n)
	for i := range syncs {
		eng := rules.NewEngine(nil, rules.Options{})
		s := newRuleSync(syncConfig{
			AgentID: fmt.Sprintf("gw-%04d", i), Fleet: "bench", Bucket: "fl_rules", Ring: ring,
			Retry: retry.Policy{Min: 10 * time.Millisecond, Max: time.Second, Jitter: true},
			Store: &memBlobs{m: map[string][]byte{}},
			Swap:  eng.Swap,
			Applied: func(st *signed.Statement, _ *rules.Program, _ bool) {
				now := time.Now()
				mu.Lock()
				applied[st.Revision] = append(applied[st.Revision], now)
				cond.Broadcast()
				mu.Unlock()
			},
		})
		syncs[i] = s
		nc := sharedConn
		if nc == nil {
			nc = benchConn(b, ns.URL())
		}
		wg.Go(func() { s.run(ctx, nc) })
	}
	deadline := time.Now().Add(5 * time.Minute)
	for _, s := range syncs {
		for s.m.watching.Value() != 1 {
			if time.Now().After(deadline) {
				b.Fatal("the simulated agents did not all start watching within 5 minutes")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		_, rev := bucket.push("fleet.bench", bundleV(fmt.Sprintf("b%d", i)), nil)
		mu.Lock()
		for len(applied[rev]) < n {
			cond.Wait()
		}
		for _, at := range applied[rev] {
			lat = append(lat, at.Sub(start))
		}
		delete(applied, rev)
		mu.Unlock()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "ms-max")
}

func benchConn(b *testing.B, url string) *nats.Conn {
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return nc
}
