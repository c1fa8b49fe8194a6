package modbussim

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// frozen is the time the test clock stands at: 12 minutes past an hour, out
// of every anomaly window of the sample config.
var frozen = time.Date(2026, 3, 1, 10, 12, 3, 0, time.UTC)

func frozenNow() time.Time { return frozen }

// newSim builds a simulator of cfg (the sample when nil) frozen at frozen.
func newSim(t *testing.T, cfg *Config) *Sim {
	t.Helper()
	c := DefaultConfig()
	if cfg != nil {
		c = *cfg
	}
	s, err := New(c, Options{Now: frozenNow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

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

// ptyPair starts socat with two linked pseudo-terminals and returns their
// paths once both exist.
func ptyPair(t *testing.T) (a, b string) {
	t.Helper()
	socat, err := exec.LookPath("socat")
	if err != nil {
		testkit.Missing(t, "socat is not installed (Debian package socat); the RTU tests need it for a pty pair")
	}
	dir := t.TempDir()
	a, b = filepath.Join(dir, "a"), filepath.Join(dir, "b")
	cmd := exec.Command(socat, "-d", "-d", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting socat: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for !exists(a) || !exists(b) {
		if time.Now().After(deadline) {
			t.Fatalf("socat made no pty links within 10s:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return a, b
}

func exists(p string) bool {
	_, err := filepath.EvalSymlinks(p)
	return err == nil
}
