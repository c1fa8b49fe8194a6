package agentrun

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options change how Start runs the binary.
type Options struct {
	// Exec is put before the binary, e.g. {"/usr/bin/qemu-aarch64-static"}.
	Exec []string
	// Env is added to the test's environment.
	Env []string
}

// Process is a running agent (or any command) whose stderr is collected
// line by line.
type Process struct {
	cmd *exec.Cmd

	mu    sync.Mutex
	cond  *sync.Cond
	lines []string
	eof   bool

	done    chan struct{}
	waitErr error
}

// Start runs bin with args. The process is killed at the end of the test if
// it still runs; when the test failed its log is printed.
func Start(t testing.TB, bin string, args []string, o Options) *Process {
	t.Helper()
	argv := append(append(append([]string(nil), o.Exec...), bin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", filepath.Base(bin), err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.eof = true
		p.cond.Broadcast()
		p.mu.Unlock()
		// Wait only after stderr is drained (exec's rule for pipes).
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", filepath.Base(bin), p.Log())
		}
	})
	return p
}

// Pid is the process id (of the emulator when Options.Exec is set).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Log returns every line logged so far.
func (p *Process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Lines returns a copy of the lines logged so far.
func (p *Process) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// WaitLine waits until a logged line contains every one of substrs and
// returns it with its index; lines logged before the call count too.
func (p *Process) WaitLine(timeout time.Duration, substrs ...string) (string, int, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; ; {
		for ; i < len(p.lines); i++ {
			if containsAll(p.lines[i], substrs) {
				return p.lines[i], i, nil
			}
		}
		if p.eof {
			return "", -1, fmt.Errorf("process ended without logging a line with %q", substrs)
		}
		if !time.Now().Before(deadline) {
			return "", -1, fmt.Errorf("no line with %q logged within %s", substrs, timeout)
		}
		p.cond.Wait()
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// Ready waits for the agent's "agent running" line and returns the address
// its HTTP endpoint listens on ("" when it is off).
func (p *Process) Ready(timeout time.Duration) (string, error) {
	line, _, err := p.WaitLine(timeout, "agent running")
	if err != nil {
		return "", err
	}
	return Field(line, "http"), nil
}

// Field returns the value of key=value in a line of slog's text format.
func Field(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if strings.HasPrefix(v, `"`) {
		if j := strings.Index(v[1:], `"`); j >= 0 {
			return v[1 : j+1]
		}
	}
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

// ErrStillRunning is returned by Wait when the process did not end in time.
var ErrStillRunning = errors.New("process still running")

// Wait waits up to timeout for the process to end and returns its exit
// code; a process ended by a signal reports the signal as an error.
func (p *Process) Wait(timeout time.Duration) (int, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		return 0, fmt.Errorf("%w after %s", ErrStillRunning, timeout)
	}
	st := p.cmd.ProcessState
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, fmt.Errorf("killed by %s", ws.Signal())
	}
	return st.ExitCode(), nil
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// WriteConfig writes an agent config into dir/agent.yaml and returns its
// path.
func WriteConfig(t testing.TB, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
