package mqtt

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/mqttsim"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/source"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sink collects what a source emits.
type sink struct {
	mu sync.Mutex
	rs []fieldline.Reading
}

func (s *sink) emit(rs []fieldline.Reading) {
	s.mu.Lock()
	s.rs = append(s.rs, rs...)
	s.mu.Unlock()
}

func (s *sink) of(sensor string) []fieldline.Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []fieldline.Reading
	for _, r := range s.rs {
		if r.SensorID == sensor {
			out = append(out, r)
		}
	}
	return out
}

func (s *sink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rs)
}

func (s *sink) values(sensor string) []float64 {
	var out []float64
	for _, r := range s.of(sensor) {
		out = append(out, r.Value)
	}
	return out
}

// logs captures a logger's output.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) lines(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

func (l *logs) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not synchronisation
	}
}

func startBroker(t *testing.T) *mqttsim.Broker {
	t.Helper()
	b, err := mqttsim.StartBroker(mqttsim.BrokerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

// fastReconnect is a backoff short enough for tests.
var fastReconnect = Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}

// clock is a fake clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// runOptions are the source runtime's options for src in tests: it logs
// to the source's logger, so that a test reads the runtime's lines (a
// lost connection, a failed connect) where it reads the source's.
func runOptions(src *Source) source.Options { return source.Options{Logger: src.log} }

// run runs src under the source runtime until ctx ends.
func run(ctx context.Context, src *Source, s *sink) error {
	return source.Run(ctx, src, s.emit, runOptions(src))
}

// running runs src under the source runtime, waits until it has
// subscribed, and returns a stop function that ends it and checks it
// returned nil.
func running(t *testing.T, src *Source, s *sink) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, src, s) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	eventually(t, "the source to connect and subscribe", src.Connected)
	return stop
}

var pubSeq atomic.Int64

func publisher(t *testing.T, broker string, qos int) *Publisher {
	t.Helper()
	id := fmt.Sprintf("%s-pub%d-%d", t.Name(), qos, pubSeq.Add(1))
	p, err := NewPublisher(Config{Name: fmt.Sprintf("pub%d", qos), ClientID: id, Brokers: []string{broker},
		QoS: &qos, Reconnect: fastReconnect}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closePublisher(t, p) })
	return p
}

func closePublisher(t *testing.T, p *Publisher) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Error(err)
	}
}

func publish(t *testing.T, p *Publisher, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Publish(ctx, topic, []byte(payload)); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// mosquitto is a real Mosquitto 2 broker process.
type mosquitto struct {
	t    *testing.T
	conf string
	addr string
	cmd  *exec.Cmd
	out  *logs
}

const mosquittoBin = "/usr/sbin/mosquitto"

func startMosquitto(t *testing.T) *mosquitto { return startMosquittoWith(t, nil) }

// startMosquittoWith starts Mosquitto; with users, anonymous clients are
// refused and these usernames and passwords are the only ones accepted.
func startMosquittoWith(t *testing.T, users map[string]string) *mosquitto {
	t.Helper()
	if _, err := os.Stat(mosquittoBin); err != nil {
		testkit.Missing(t, "Mosquitto is not installed at %s (apt-get install mosquitto; CI installs it): %v", mosquittoBin, err)
	}
	dir := t.TempDir()
	port := freePort(t)
	m := &mosquitto{t: t, conf: filepath.Join(dir, "mosquitto.conf"), addr: fmt.Sprintf("127.0.0.1:%d", port), out: &logs{}}
	conf := fmt.Sprintf("listener %d 127.0.0.1\npersistence false\nlog_dest stderr\n", port)
	if os.Geteuid() == 0 {
		conf += "user root\n"
	}
	if users == nil {
		conf += "allow_anonymous true\n"
	} else {
		pw := filepath.Join(dir, "passwd")
		if err := os.WriteFile(pw, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for u, p := range users {
			if out, err := exec.Command("/usr/bin/mosquitto_passwd", "-b", pw, u, p).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_passwd: %v %s", err, out)
			}
		}
		conf += "allow_anonymous false\npassword_file " + pw + "\n"
	}
	if err := os.WriteFile(m.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *mosquitto) url() string { return "mqtt://" + m.addr }

func (m *mosquitto) start() {
	m.t.Helper()
	m.cmd = exec.Command(mosquittoBin, "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto not accepting connections on %s after 10s: %v\n%s", m.addr, err, m.out.lines(""))
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

func (m *mosquitto) stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	_ = m.cmd.Wait()
	m.cmd = nil
}

func mqttsimStartBroker() (*mqttsim.Broker, error) {
	return mqttsim.StartBroker(mqttsim.BrokerOptions{})
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
