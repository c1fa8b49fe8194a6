package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzTCPAnswers feeds arbitrary bytes to the client as the device's
// answers to three pipelined requests: it never panics or reads past a
// frame, and when it returns no error every request has its answer, values
// of the asked count or an exception.
func FuzzTCPAnswers(f *testing.F) {
	reqs := []ReadRequest{{Table: Holding, Address: 0, Count: 2}, {Table: Coil, Address: 0, Count: 9}, {Table: Input, Address: 5, Count: 1}}
	answer := mbapFrame
	good := slices.Concat(answer(3, 1, 4, 2, 0, 7), answer(1, 1, 3, 4, 0, 1, 0, 2), answer(2, 1, 1, 2, 0xff, 1))
	f.Add(good)
	f.Add(slices.Concat(answer(1, 1, 0x83, 2), answer(2, 0xff, 0x81, 11), answer(3, 1, 4, 2, 0, 7)))
	f.Add(good[:20])
	f.Add(slices.Concat(answer(9, 1, 3, 2, 0, 1), good))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The socket hands over 1 to 4 bytes a read, or all it has.
		c := newTCPClient(&scriptIO{in: data, chunk: len(data) % 5}, time.Second, 3)
		xs := make([]tcpExchange, len(reqs))
		for i := range reqs {
			xs[i] = tcpExchange{unit: 1, req: &reqs[i]}
		}
		if err := c.exchange(context.Background(), xs); err != nil {
			return
		}
		for i, x := range xs {
			switch {
			case !x.done:
				t.Fatalf("request %d: no error and no answer", i)
			case x.err != nil:
				if len(x.regs)+len(x.bits) != 0 {
					t.Fatalf("request %d: exception %v and values", i, x.err)
				}
			case x.req.Table == Coil || x.req.Table == Discrete:
				if len(x.bits) != int(x.req.Count) || x.regs != nil {
					t.Fatalf("request %d: %d bits for %d", i, len(x.bits), x.req.Count)
				}
			case len(x.regs) != int(x.req.Count) || x.bits != nil:
				t.Fatalf("request %d: %d registers for %d", i, len(x.regs), x.req.Count)
			}
		}
	})
}

// TestTCPAnswersGolden: the fuzz seeds' outcomes, each checked by hand.
func TestTCPAnswersGolden(t *testing.T) {
	reqs := []ReadRequest{{Table: Holding, Address: 0, Count: 2}, {Table: Coil, Address: 0, Count: 9}}
	frame := mbapFrame
	for _, tc := range []struct {
		name string
		in   []byte
		err  string // the line's error
		want func(xs []tcpExchange) bool
	}{
		{"in reverse order", slices.Concat(frame(2, 1, 1, 2, 0x05, 1), frame(1, 1, 3, 4, 0x01, 0x02, 0xff, 0xfe)), "", func(xs []tcpExchange) bool {
			return slices.Equal(xs[0].regs, []uint16{0x0102, 0xfffe}) && slices.Equal(xs[1].bits, []bool{true, false, true, false, false, false, false, false, true})
		}},
		{"an exception from a gateway", slices.Concat(frame(1, 0xff, 0x83, 11), frame(2, 1, 1, 2, 0, 0)), "", func(xs []tcpExchange) bool {
			return errors.Is(xs[0].err, errGatewayTarget()) && len(xs[1].bits) == 9
		}},
		{"a late answer to an earlier request is skipped", slices.Concat(frame(7, 1, 3, 2, 0, 0), frame(1, 1, 3, 4, 0, 1, 0, 2), frame(2, 1, 1, 2, 0, 0)), "", func(xs []tcpExchange) bool {
			return slices.Equal(xs[0].regs, []uint16{1, 2})
		}},
		{"another protocol's frame is skipped", slices.Concat([]byte{0, 1, 0, 9, 0, 3, 1, 3, 0}, frame(1, 1, 3, 4, 0, 1, 0, 2), frame(2, 1, 1, 2, 0, 0)), "", func(xs []tcpExchange) bool {
			return slices.Equal(xs[0].regs, []uint16{1, 2})
		}},
		{"a count that is not the request's", frame(1, 1, 3, 2, 0, 1), "data bytes", nil},
		{"another unit", frame(1, 2, 3, 4, 0, 1, 0, 2), "unit id", nil},
		{"another function", frame(1, 1, 4, 4, 0, 1, 0, 2), "function code 4 answers a request of 3", nil},
		{"an MBAP length of 1", []byte{0, 1, 0, 0, 0, 1, 1}, "MBAP length 1", nil},
		{"the line ends", frame(1, 1, 3, 4, 0, 1)[:9], "EOF", nil},
	} {
		// All at once, and a few bytes a read: frames split across reads.
		for _, chunk := range []int{0, 1, 3} {
			t.Run(fmt.Sprintf("%s/chunk=%d", tc.name, chunk), func(t *testing.T) {
				c := newTCPClient(&scriptIO{in: tc.in, chunk: chunk}, time.Second, 2)
				xs := []tcpExchange{{unit: 1, req: &reqs[0]}, {unit: 1, req: &reqs[1]}}
				err := c.exchange(context.Background(), xs)
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("error %v, want one saying %q", err, tc.err)
					}
					if f := classify(err); f.out != broken {
						t.Errorf("%v is classified %+v, want a broken line", err, f)
					}
					return
				}
				if err != nil || !tc.want(xs) {
					t.Fatalf("error %v, answers %+v", err, xs)
				}
			})
		}
	}
}

// TestExchangeEndsWithItsContext: a pipelined exchange returns ctx's error
// as soon as ctx ends, not after its timeout (an hour here), and sends
// nothing more: the device reads the first two requests, ctx ends, and
// then the device answers the first, which would make room for the third
// request of an exchange that went on.
func TestExchangeEndsWithItsContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan int, 1)
	go func() { // the device: reads the first two requests, answers nothing
		c, err := ln.Accept()
		if err != nil {
			got <- 0
			return
		}
		defer c.Close()
		b := make([]byte, 64)
		n := 0
		for n < 24 {
			m, err := c.Read(b[n:])
			if err != nil {
				break
			}
			n += m
		}
		cancel()
		if _, err := c.Write(mbapFrame(1, 1, 3, 2, 0, 7)); err != nil {
			got <- -1
			return
		}
		for { // and anything sent after ctx ended
			m, err := c.Read(b[n:])
			n += m
			if err != nil {
				break
			}
		}
		got <- n
	}()
	c, err := dialTCP(ln.Addr().String(), time.Hour, 2, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	reqs := []ReadRequest{{Table: Holding, Count: 1}, {Table: Holding, Address: 1, Count: 1}, {Table: Holding, Address: 2, Count: 1}}
	xs := []tcpExchange{{unit: 1, req: &reqs[0]}, {unit: 1, req: &reqs[1]}, {unit: 1, req: &reqs[2]}}
	done := make(chan error, 1)
	go func() { done <- c.exchange(ctx, xs) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("exchange returned %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("exchange still waiting a minute after its context ended")
	}
	c.close()
	if n := <-got; n != 24 {
		t.Errorf("the device got %d bytes, want the two requests' 24 and nothing after ctx ended", n)
	}
	if xs[1].done || xs[2].txn != 0 {
		t.Errorf("the second request answered (%v) or the third sent (txn %d)", xs[1].done, xs[2].txn)
	}
}

// TestExchangeStopsSendingWhenItsContextEnds: ctx ends while the answer
// to the first of two requests in flight is being read; the exchange
// returns ctx's error and does not send the third request, for which the
// answer made room.
func TestExchangeStopsSendingWhenItsContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	line := &scriptIO{in: mbapFrame(1, 1, 3, 2, 0, 7), onRead: cancel}
	c := newTCPClient(line, time.Hour, 2)
	reqs := []ReadRequest{{Table: Holding, Count: 1}, {Table: Holding, Address: 1, Count: 1}, {Table: Holding, Address: 2, Count: 1}}
	xs := []tcpExchange{{unit: 1, req: &reqs[0]}, {unit: 1, req: &reqs[1]}, {unit: 1, req: &reqs[2]}}
	if err := c.exchange(ctx, xs); !errors.Is(err, context.Canceled) {
		t.Fatalf("exchange returned %v, want context.Canceled", err)
	}
	if len(line.out) != 24 || xs[2].txn != 0 {
		t.Fatalf("%d bytes sent (the third request's txn %d), want the first two requests' 24", len(line.out), xs[2].txn)
	}
}

func errGatewayTarget() error { return exceptions[len(exceptions)-1].err }

// scriptIO is a line whose device says in, then nothing more, at most
// chunk bytes a read (all it has when 0); onRead, when set, is called
// before each read returns.
type scriptIO struct {
	in     []byte
	chunk  int
	out    []byte
	onRead func()
}

func (s *scriptIO) write(b []byte) error { s.out = append(s.out, b...); return nil }

func (s *scriptIO) read(b []byte) (int, error) {
	if len(s.in) == 0 {
		return 0, io.EOF
	}
	if s.chunk > 0 && len(b) > s.chunk {
		b = b[:s.chunk]
	}
	n := copy(b, s.in)
	s.in = s.in[n:]
	if s.onRead != nil {
		s.onRead()
	}
	return n, nil
}

func (s *scriptIO) setDeadline(time.Time) error { return nil }
func (s *scriptIO) close() error                { return nil }

// mbapFrame is a Modbus TCP frame: transaction txn, protocol 0, unit,
// function code fc and data.
func mbapFrame(txn uint16, unit, fc byte, data ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, txn)
	b = binary.BigEndian.AppendUint16(append(b, 0, 0), uint16(len(data)+2))
	return append(append(b, unit, fc), data...)
}
