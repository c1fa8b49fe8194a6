package uplink

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestSendSaysWhyItFailed: no bridge subscribed is ErrNoBridge; a
// connection that is down is ErrNoConnection, not nats.go's "outbound
// buffer limit exceeded"; a request waiting for its answer when the
// connection drops fails at once (after Watch), not at its timeout.
func TestSendSaysWhyItFailed(t *testing.T) {
	s := runServer(t, &server.Options{})
	nc, err := DialNATS(NATSConfig{URL: s.ClientURL(), ReconnectWait: 10 * time.Millisecond}, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := NewNATSClient(nc, "gw-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Watch(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Send(ctx, []byte("batch")); !errors.Is(err, ErrNoBridge) {
		t.Fatalf("no bridge: %v, want ErrNoBridge", err)
	}

	// A bridge that takes the batch and never answers: the request waits.
	br, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	got := make(chan struct{}, 1)
	if _, err := br.Subscribe(SubjectPrefix+"*", func(*nats.Msg) { got <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if err := br.Flush(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := c.Send(ctx, []byte("batch")); done <- err }()
	<-got
	s.Shutdown() // the connection drops with the answer outstanding
	if err := <-done; !errors.Is(err, ErrNoConnection) {
		t.Fatalf("connection dropped while waiting: %v, want ErrNoConnection", err)
	}
	if _, err := c.Send(ctx, []byte("batch")); !errors.Is(err, ErrNoConnection) || errors.Is(err, nats.ErrReconnectBufExceeded) {
		t.Fatalf("while disconnected: %v, want ErrNoConnection alone", err)
	}
}

// TestWatchWakes: Wake receives when a bridge says hello and when the
// connection is made again, and holds one wake at most.
func TestWatchWakes(t *testing.T) {
	opts := &server.Options{}
	s := runServer(t, opts)
	url := s.ClientURL()
	nc, err := DialNATS(NATSConfig{URL: url, ReconnectWait: 10 * time.Millisecond}, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := NewNATSClient(nc, "gw-1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.Wake() != nil {
		t.Fatal("Wake before Watch must never receive (nil)")
	}
	if err := c.Watch(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	woken := func(what string) {
		t.Helper()
		select {
		case <-c.Wake():
		case <-time.After(30 * time.Second):
			t.Fatalf("no wake after %s", what)
		}
	}

	bridge, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer bridge.Close()
	for range 3 {
		if err := bridge.Publish(HelloSubject, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := bridge.Flush(); err != nil {
		t.Fatal(err)
	}
	woken("a bridge's hello")

	// The server goes and comes back on the same port: the new
	// connection wakes.
	port := s.Addr().(*net.TCPAddr).Port
	s.Shutdown()
	s.WaitForShutdown()
	for c.Connected() {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-c.Wake(): // a hello taken after the first: three hellos hold one wake
	default:
	}
	again, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go again.Start()
	defer again.Shutdown()
	if !again.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready again")
	}
	woken("the connection made again")
	if !c.Connected() {
		t.Fatal("woken before the connection was up")
	}
}
