package modbus

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldline/fieldline/protocols/source"
)

// lockedBuffer collects log lines from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogLinesNameTheSourceOnce: the source adds source=modbus/<name> to
// its logger once (New), and the runtime names it in its own lines; a
// device that refuses reads, then goes away, gives lines of both, the
// library's at debug level too, each naming the source once.
func TestLogLinesNameTheSourceOnce(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newSim(t, nil, nil)
	ctx, stopServer := context.WithCancel(context.Background())
	addr, err := s.ListenTCP(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{Name: "meter", URL: "tcp://" + addr.String(), Timeout: time.Second,
		ReconnectBackoff: Backoff{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond},
		Units:            []UnitConfig{{ID: 2, Groups: meterGroups(RegisterConfig{Sensor: "missing", Table: Input, Address: 20})}}},
		Options{Metrics: NewMetrics(nil), Now: frozenNow, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- source.Run(runCtx, src, c.emit, source.Options{Logger: log}) }()
	defer func() { stop(); <-done }()
	c.waitUntil(t, 10*time.Second, "a failed read in the log", func() bool { return strings.Contains(logs.String(), "modbus read failed") })
	stopServer()
	c.waitUntil(t, 10*time.Second, "the runtime's line about the lost device", func() bool {
		return strings.Contains(logs.String(), "source cannot connect") || strings.Contains(logs.String(), "source disconnected")
	})
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if n := strings.Count(l, "source="); n != 1 || !strings.Contains(l, "source=modbus/meter") {
			t.Errorf("a line names its source %d times: %s", n, l)
		}
	}
}
