package source

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scripted is a source whose Connect and Read answer from a script, one
// entry per call, and which records the calls. It pins down the runtime's
// rules; the protocols' real sources go through the runtime in the
// conformance suite (internal/testbed/sourcetest).
type scripted struct {
	mu       sync.Mutex
	connects []error // Connect results in turn; then nil
	reads    []error // Read results in turn (errBlock: until ctx ends); then block
	calls    []string
	closeErr error
	backoff  Backoff
	done     chan struct{} // closed once the script is used up
}

var errBlock = errors.New("block until ctx ends")

func newScripted(connects, reads []error) *scripted {
	return &scripted{connects: connects, reads: reads, done: make(chan struct{}),
		backoff: Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond}}
}

func (s *scripted) Name() string { return "test/scripted" }

func (s *scripted) ReconnectBackoff() Backoff { return s.backoff }

func (s *scripted) Connect(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "connect")
	if len(s.connects) == 0 {
		return nil
	}
	err := s.connects[0]
	s.connects = s.connects[1:]
	return err
}

func (s *scripted) Read(ctx context.Context, emit func([]fieldline.Reading)) error {
	s.mu.Lock()
	_, deadline := ctx.Deadline()
	call := "read"
	if deadline {
		call = "read-while-down"
	}
	s.calls = append(s.calls, call)
	var err error
	if len(s.reads) == 0 {
		err = errBlock
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	} else {
		err = s.reads[0]
		s.reads = s.reads[1:]
	}
	s.mu.Unlock()
	emit([]fieldline.Reading{{SensorID: call}})
	if err == errBlock {
		<-ctx.Done()
		return nil
	}
	return err
}

func (s *scripted) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "close")
	return s.closeErr
}

func (s *scripted) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

var (
	errRefused = errors.New("refused")
	errLost    = fmt.Errorf("peer gone: %w", ErrNotConnected)
	errBroken  = errors.New("broken")
)

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name            string
		connects, reads []error
		// stable: every connection counts as one that held, so that a
		// lost peer is tried again at once.
		stable       bool
		want         []string // calls, the last blocking read and the close at the end included
		connected    int      // Connects that succeeded
		refused      int      // and failed
		lost, failed int
		restarted    int
	}{
		{
			name:      "connects and reads until ctx ends",
			connected: 1,
			want:      []string{"connect", "read", "close"},
		},
		{
			name:      "reads while down between attempts, then connects",
			refused:   2,
			connected: 1,
			connects:  []error{errRefused, errRefused},
			reads:     []error{errLost, errBlock},
			want:      []string{"connect", "read-while-down", "connect", "read-while-down", "connect", "read", "close"},
		},
		{
			name:      "a lost peer is connected again at once after a connection that held",
			connected: 2,
			reads:     []error{errLost},
			stable:    true,
			want:      []string{"connect", "read", "connect", "read", "close"},
			lost:      1,
		},
		{
			name:      "a lost peer of a connection that did not hold waits a backoff, reading while down",
			refused:   1,
			connected: 2,
			connects:  []error{nil, errRefused},
			reads:     []error{errLost, errBlock, errBlock},
			want:      []string{"connect", "read", "read-while-down", "connect", "read-while-down", "connect", "read", "close"},
			lost:      1,
		},
		{
			name:      "a failure closes and restarts the source",
			connected: 2,
			reads:     []error{errBroken},
			want:      []string{"connect", "read", "close", "connect", "read", "close"},
			failed:    1,
			restarted: 1,
		},
		{
			name:      "a read that stops on its own is a failure",
			connected: 2,
			reads:     []error{nil},
			want:      []string{"connect", "read", "close", "connect", "read", "close"},
			failed:    1,
			restarted: 1,
		},
		{
			name:      "a restart that cannot connect reads while down",
			refused:   1,
			connected: 2,
			connects:  []error{nil, errRefused},
			reads:     []error{errBroken, errLost},
			want:      []string{"connect", "read", "close", "connect", "read-while-down", "connect", "read", "close"},
			failed:    1,
			restarted: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newScripted(tc.connects, tc.reads)
			if tc.stable {
				src.backoff = Backoff{Min: time.Nanosecond, Max: time.Nanosecond}
			} else {
				src.backoff = Backoff{Min: time.Millisecond, Max: time.Hour}
			}
			ctx, cancel := context.WithCancel(context.Background())
			var mu sync.Mutex
			var connected, refused, lost, failed, restarted int
			var got []string
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, src, func(rs []fieldline.Reading) {
					mu.Lock()
					got = append(got, rs[0].SensorID)
					mu.Unlock()
				}, Options{
					Connected:     func() { mu.Lock(); connected++; mu.Unlock() },
					ConnectFailed: func(error) { mu.Lock(); refused++; mu.Unlock() },
					Lost:          func(err error) { mu.Lock(); lost++; mu.Unlock() },
					Failed:        func(err error) { mu.Lock(); failed++; mu.Unlock() },
					Restarted:     func() { mu.Lock(); restarted++; mu.Unlock() },
				})
			}()
			<-src.done
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if calls := src.log(); !slices.Equal(calls, tc.want) {
				t.Errorf("calls %v\nwant  %v", calls, tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if connected != tc.connected || refused != tc.refused || lost != tc.lost || failed != tc.failed || restarted != tc.restarted {
				t.Errorf("connected %d refused %d lost %d failed %d restarted %d, want %d %d %d %d %d", connected, refused, lost, failed, restarted, tc.connected, tc.refused, tc.lost, tc.failed, tc.restarted)
			}
			var reads []string
			for _, c := range tc.want {
				if strings.HasPrefix(c, "read") {
					reads = append(reads, c)
				}
			}
			if !slices.Equal(got, reads) {
				t.Errorf("emitted by %v, want every read's %v", got, reads)
			}
		})
	}
}

func TestRunReturnsCloseError(t *testing.T) {
	src := newScripted(nil, nil)
	src.closeErr = errors.New("stuck")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, src, func([]fieldline.Reading) {}, Options{}) }()
	<-src.done
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "closing source test/scripted: stuck") {
		t.Fatalf("Run: %v", err)
	}
}

// TestRunLogsOncePerMinute: a source refused a hundred times logs one line
// that names it and the cause.
func TestRunLogsOncePerMinute(t *testing.T) {
	refusals := make([]error, 100)
	for i := range refusals {
		refusals[i] = errRefused
	}
	src := newScripted(refusals, []error{errLost})
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, src, func([]fieldline.Reading) {}, Options{Logger: logs.logger()})
	}()
	<-src.done
	cancel()
	<-done
	if n := strings.Count(logs.String(), "source cannot connect"); n != 1 || !strings.Contains(logs.String(), "source=test/scripted err=refused") {
		t.Fatalf("%d lines about the refusals:\n%s", n, logs.String())
	}
}
