package rawconn

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns a wrapped client connection and the server's end of it.
func pair(t *testing.T) (client net.Conn, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	d := &Dialer{}
	client, err = d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	if _, raw := client.(*Conn); raw != (runtime.GOOS == "linux") {
		t.Fatalf("Dial returned a %T on %s", client, runtime.GOOS)
	}
	return client, server
}

// TestEcho: 4 MiB written in one Write (more than the socket buffers hold,
// so the write waits for the poller) come back byte for byte through an
// echoing peer, read in whatever pieces the socket hands over.
func TestEcho(t *testing.T) {
	c, s := pair(t)
	go func() { _, _ = io.Copy(s, s) }()
	want := make([]byte, 4<<20)
	for i := range want {
		want[i] = byte(rand.Uint32())
	}
	werr := make(chan error, 1)
	go func() {
		n, err := c.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		werr <- err
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the echo differs from what was written")
	}
}

// TestEnds: a read past its deadline fails as a timeout, one on a
// connection the peer closed returns io.EOF, and one on a connection
// closed meanwhile returns net.ErrClosed; none waits longer.
func TestEnds(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		c, _ := pair(t)
		if err := c.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		_, err := c.Read(make([]byte, 10))
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read past its deadline: %v, want a timeout", err)
		}
	})
	t.Run("peer closed", func(t *testing.T) {
		c, s := pair(t)
		if _, err := s.Write([]byte("bye")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "bye" {
			t.Fatalf("read %q, %v; want bye and EOF", got, err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		c, _ := pair(t)
		done := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 10))
			done <- err
		}()
		c.Close() // before the read started or while it waits: the same

		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed connection: %v, want net.ErrClosed", err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("write on a closed connection: %v, want net.ErrClosed", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		c, s := pair(t)
		if err := s.(*net.TCPConn).SetLinger(0); err != nil {
			t.Fatal(err)
		}
		s.Close() // RST
		var err error
		for err == nil {
			_, err = c.Write(make([]byte, 1<<16))
		}
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "write" && oe.Op != "raw-write" {
			t.Fatalf("write to a reset connection: %v (%T), want a *net.OpError", err, err)
		}
	})
}
