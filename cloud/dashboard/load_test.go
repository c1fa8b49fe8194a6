package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// swarm is n WebSocket clients of one dashboard, each counting the points
// of sensor "load" it receives and noting each frame's delay (receipt −
// the time its first update reached the hub).
type swarm struct {
	mu      sync.Mutex
	got     [][]float64
	delays  []time.Duration
	errs    []error
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	started sync.WaitGroup
}

func startSwarm(base string, n, want int) *swarm {
	ctx, cancel := context.WithCancel(context.Background())
	s := &swarm{got: make([][]float64, n), cancel: cancel}
	s.started.Add(n)
	for i := range n {
		s.wg.Go(func() { s.client(ctx, base, i, want) })
	}
	return s
}

func (s *swarm) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

func (s *swarm) client(ctx context.Context, base string, i, want int) {
	dctx, dcancel := context.WithTimeout(ctx, 60*time.Second)
	c, _, err := websocket.Dial(dctx, "ws"+base[len("http"):]+"/api/live", nil)
	dcancel()
	if err != nil {
		s.started.Done()
		s.fail(fmt.Errorf("client %d: %w", i, err))
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 20)
	first := true
	var delays []time.Duration
	for len(s.got[i]) < want {
		_, data, err := c.Read(ctx)
		if first {
			s.started.Done()
			first = false
		}
		if err != nil {
			s.fail(fmt.Errorf("client %d after %d points: %w", i, len(s.got[i]), err))
			return
		}
		at := time.Now()
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			s.fail(err)
			return
		}
		if m.Type != "update" {
			continue
		}
		delays = append(delays, at.Sub(time.Unix(0, m.T0)))
		for _, p := range m.Points {
			if p.Sensor == "load" {
				for _, q := range p.P {
					s.got[i] = append(s.got[i], float64(q[1]))
				}
			}
		}
	}
	s.mu.Lock()
	s.delays = append(s.delays, delays...)
	s.mu.Unlock()
}

// wait waits for every client to have its points, or gives up.
func (s *swarm) wait(within time.Duration) bool {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(within):
		s.cancel()
		<-done
		return false
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// feed hands n readings of sensor "load" (values 0..n-1) to the store, one
// every gap: the path a Kafka record takes once decoded.
func feed(d *Dashboard, n int, gap time.Duration) {
	base := time.Now().UnixNano()
	for i := range n {
		d.store.reading("load-agent", &fieldline.Reading{SensorID: "load", TimeNs: base + int64(i), Value: float64(i)})
		time.Sleep(gap) // pacing the source, not synchronisation
	}
}

// TestThousandClients holds 1,000 live streams on one dashboard and checks
// that every client receives every update, in order, and none is cut off.
func TestThousandClients(t *testing.T) {
	const clients, updates = 1000, 200
	r := startRig(t, nil)
	s := startSwarm(r.url, clients, updates)
	s.started.Wait()
	if len(s.errs) > 0 {
		t.Fatalf("%d clients failed to connect, first: %v", len(s.errs), s.errs[0])
	}
	testkit.WaitFor(t, 30*time.Second, "1000 clients", func() bool { return testutil.ToFloat64(r.d.m.Clients) == clients })
	feed(r.d, updates, 2*time.Millisecond)
	if !s.wait(120 * time.Second) {
		t.Fatalf("not every client got its updates within 120s; errors: %v", s.errs)
	}
	if len(s.errs) > 0 {
		t.Fatalf("%d clients failed, first: %v", len(s.errs), s.errs[0])
	}
	for i, got := range s.got {
		if len(got) != updates {
			t.Fatalf("client %d got %d updates, want %d", i, len(got), updates)
		}
		for j, v := range got {
			if v != float64(j) {
				t.Fatalf("client %d: update %d is %v, want %d (order)", i, j, v, j)
			}
		}
	}
	if cut := testutil.ToFloat64(r.d.m.CutOff.WithLabelValues("slow")) + testutil.ToFloat64(r.d.m.CutOff.WithLabelValues("write")); cut != 0 {
		t.Errorf("%v clients cut off, want none", cut)
	}
	frames := testutil.ToFloat64(r.d.m.Frames)
	if sent := testutil.ToFloat64(r.d.m.FramesSent); sent < clients*frames {
		t.Errorf("frames sent %v, want at least %v (every frame to every client)", sent, clients*frames)
	}
	t.Logf("%d clients × %d updates in %v frames; frame delay p50 %v, p99 %v", clients, updates, frames, percentile(s.delays, 0.5), percentile(s.delays, 0.99))
}

// loadClientsEnv names the dashboard a helper process's swarm connects to
// (BenchmarkThousandClients starts it, so that the dashboard's memory is
// measured without the clients').
const loadClientsEnv = "FL_DASHBOARD_LOAD_URL"

// TestLoadClients is the swarm of BenchmarkThousandClients when run as its
// helper process; otherwise it has nothing to do.
func TestLoadClients(t *testing.T) {
	url := os.Getenv(loadClientsEnv)
	if url == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv("FL_DASHBOARD_LOAD_CLIENTS"))
	want, _ := strconv.Atoi(os.Getenv("FL_DASHBOARD_LOAD_UPDATES"))
	s := startSwarm(url, n, want)
	s.started.Wait()
	fmt.Println("connected")
	ok := s.wait(10 * time.Minute)
	short := 0
	for _, g := range s.got {
		if len(g) != want {
			short++
		}
	}
	out, _ := json.Marshal(map[string]any{"ok": ok && len(s.errs) == 0 && short == 0, "errors": len(s.errs), "short": short,
		"p50_ms": float64(percentile(s.delays, 0.5).Microseconds()) / 1000, "p99_ms": float64(percentile(s.delays, 0.99).Microseconds()) / 1000})
	fmt.Println(string(out))
}

// BenchmarkThousandClients: 1,000 live streams on one dashboard, the
// clients in a helper process; reports the dashboard's memory per
// connected client (heap and stacks, after GC, over the idle dashboard)
// and the frame delay (an update reaching the hub → the client holding
// its frame) at a steady 200 updates/s.
func BenchmarkThousandClients(b *testing.B) {
	const clients, updates = 1000, 2000
	for b.Loop() {
		r := startRig(b, nil)
		mem := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapInuse + m.StackInuse
		}
		before := mem()
		cmd := exec.Command(os.Args[0], "-test.run=^TestLoadClients$", "-test.count=1")
		cmd.Env = append(os.Environ(), loadClientsEnv+"="+r.url, "FL_DASHBOARD_LOAD_CLIENTS="+strconv.Itoa(clients), "FL_DASHBOARD_LOAD_UPDATES="+strconv.Itoa(updates))
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		lines.Scan() // "connected"
		testkit.WaitFor(b, time.Minute, "1000 clients", func() bool { return testutil.ToFloat64(r.d.m.Clients) == clients })
		perClient := float64(mem()-before) / clients
		feed(r.d, updates, 5*time.Millisecond)
		var res struct {
			OK            bool
			Errors, Short int
			P50, P99      float64 `json:"-"`
			P50ms         float64 `json:"p50_ms"`
			P99ms         float64 `json:"p99_ms"`
		}
		for lines.Scan() {
			if err := json.Unmarshal(lines.Bytes(), &res); err == nil {
				break
			}
		}
		_ = cmd.Wait()
		if !res.OK {
			b.Fatalf("swarm: %d errors, %d clients short of %d updates", res.Errors, res.Short, updates)
		}
		b.ReportMetric(perClient, "bytes/client")
		b.ReportMetric(res.P50ms, "ms-p50")
		b.ReportMetric(res.P99ms, "ms-p99")
		b.ReportMetric(float64(clients), "clients")
	}
}
