package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	mb "github.com/simonvetter/modbus"
)

// tcpClient is the package's own Modbus TCP client, for tcp:// URLs
// (rtuovertcp:// and rtu:// stay with github.com/simonvetter/modbus). It
// does what the library's client does not: it sends up to inFlight
// requests before reading their answers (Modbus TCP tells answers apart by
// transaction id), reads a whole answer in one call instead of two, keeps
// its buffers between polls, and does its socket reads and writes without
// telling the Go scheduler (internal/rawconn), which otherwise wakes its
// monitor thread for every request of a poll (issue 19: a third of the
// agent's CPU at 1 Hz was that thread). Its errors are the library's
// sentinels, so classify treats both clients alike.
type tcpClient struct {
	io       lineIO
	now      func() time.Time // the source's clock, for tcpExchange.at
	timeout  time.Duration
	inFlight int
	txn      uint16
	out      []byte
	in       []byte // in[r:w] is read and not yet parsed
	r, w     int
}

// lineIO is the connection as tcpClient uses it: rawIO on a socket, a
// script of bytes in the fuzz test.
type lineIO interface {
	write(b []byte) error
	read(b []byte) (int, error) // what has arrived, at least one byte
	setDeadline(t time.Time) error
	close() error
}

// tcpExchange is one request of an exchange and its answer: regs or bits,
// or err, an exception the unit answered with.
type tcpExchange struct {
	unit uint8
	req  *ReadRequest
	txn  uint16 // 0 until sent
	done bool
	sent time.Time
	took time.Duration // from sending to the answer
	at   int64         // when the answer came, on tcpClient.now, in ns
	regs []uint16
	bits []bool
	err  error
}

const (
	mbapLen     = 7
	maxTCPFrame = 260
)

// dialTCP connects to addr (host:port), for at most 5 s, as the library's
// client does (a slow link may take longer to connect than a request to
// be answered).
func dialTCP(addr string, timeout time.Duration, inFlight int, now func() time.Time) (*tcpClient, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	t := newTCPClient(newRawIO(c), timeout, inFlight)
	t.now = now
	return t, nil
}

func newTCPClient(l lineIO, timeout time.Duration, inFlight int) *tcpClient {
	return &tcpClient{io: l, now: time.Now, timeout: timeout, inFlight: max(inFlight, 1), in: make([]byte, 4*maxTCPFrame)}
}

func (t *tcpClient) close() error { return t.io.close() }

// exchange sends every request of xs, at most inFlight before their
// answers, and fills in each answer. The error it returns is the line's
// (i/o, timeout, a garbled frame), or ctx's when ctx ended: the connection
// is then unusable, and the requests not done are for the caller to send
// again. Each request has the whole timeout for its answer, counted from
// when it was sent. When ctx ends, exchange sends nothing more and stops
// waiting at once.
func (t *tcpClient) exchange(ctx context.Context, xs []tcpExchange) error {
	// When ctx ends, a deadline in the past wakes a read waiting for an
	// answer. mu orders it with exchange's own deadlines: one set after
	// ctx ended would put it off, and a late callback must not cut a
	// later exchange short.
	var mu sync.Mutex
	over := false
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if !over {
				_ = t.io.setDeadline(time.Unix(1, 0))
			}
		})
		defer func() {
			stop()
			mu.Lock()
			over = true
			mu.Unlock()
		}()
	}
	setDeadline := func(d time.Time) error {
		mu.Lock()
		defer mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err // the callback's past deadline stands
		}
		return t.io.setDeadline(d)
	}
	sent, done := 0, 0
	for done < len(xs) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if sent < len(xs) && sent-done < t.inFlight {
			t.out = t.out[:0]
			first := sent
			for sent < len(xs) && sent-done < t.inFlight {
				x := &xs[sent]
				if t.txn++; t.txn == 0 {
					t.txn = 1 // 0 means not sent
				}
				x.txn, x.done, x.err, x.regs, x.bits = t.txn, false, nil, nil, nil
				t.out = appendRequest(t.out, x.txn, x.unit, x.req)
				sent++
			}
			now := time.Now()
			for i := first; i < sent; i++ {
				xs[i].sent = now
			}
			if first == done { // nothing was waiting: the oldest is this batch
				if err := setDeadline(now.Add(t.timeout)); err != nil {
					return err
				}
			}
			if err := t.io.write(t.out); err != nil {
				return t.lineErr(ctx, err)
			}
		}
		frame, err := t.frame()
		if err != nil {
			return t.lineErr(ctx, err)
		}
		txn := binary.BigEndian.Uint16(frame)
		var x *tcpExchange
		for i := done; i < sent; i++ {
			if xs[i].txn == txn && !xs[i].done {
				x = &xs[i]
				break
			}
		}
		if x == nil {
			continue // a late answer to a request given up on: the library ignores these too
		}
		if err := parseAnswer(frame, x); err != nil {
			return err
		}
		x.done, x.took, x.at = true, time.Since(x.sent), t.now().UnixNano()
		oldest := done
		for done < sent && xs[done].done {
			done++
		}
		if done != oldest && done < sent {
			// The oldest request still waiting has its own timeout.
			if err := setDeadline(xs[done].sent.Add(t.timeout)); err != nil {
				return err
			}
		}
	}
	return nil
}

// lineErr is err as exchange returns it: ctx's error when ctx ended (the
// deadline exchange set in the past then is not the device's timeout),
// else a deadline as the library's timeout.
func (t *tcpClient) lineErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return timeoutAs(err)
}

// frame returns the next whole MBAP frame of a known protocol, reading as
// much as the socket holds. It stays valid until the next call.
func (t *tcpClient) frame() ([]byte, error) {
	for {
		if t.w-t.r >= mbapLen {
			n := int(binary.BigEndian.Uint16(t.in[t.r+4:]))
			if n < 2 || mbapLen-1+n > maxTCPFrame {
				return nil, fmt.Errorf("MBAP length %d: %w", n, mb.ErrProtocolError)
			}
			if end := t.r + mbapLen - 1 + n; end <= t.w {
				f := t.in[t.r:end]
				t.r = end
				if binary.BigEndian.Uint16(f[2:]) != 0 {
					continue // another protocol's frame: ignored, as the library does
				}
				return f, nil
			}
		}
		if t.r > 0 { // keep the partial frame at the start
			t.w = copy(t.in, t.in[t.r:t.w])
			t.r = 0
		}
		n, err := t.io.read(t.in[t.w:])
		if err != nil {
			return nil, timeoutAs(err)
		}
		t.w += n
	}
}

// appendRequest appends the frame of a read request.
func appendRequest(b []byte, txn uint16, unit uint8, r *ReadRequest) []byte {
	b = binary.BigEndian.AppendUint16(b, txn)
	b = append(b, 0, 0, 0, 6, unit, functionCode(r.Table))
	b = binary.BigEndian.AppendUint16(b, r.Address)
	return binary.BigEndian.AppendUint16(b, r.Count)
}

func functionCode(t Table) byte {
	switch t {
	case Coil:
		return 1
	case Discrete:
		return 2
	case Input:
		return 4
	}
	return 3
}

// parseAnswer checks the frame f against its request x and fills in the
// answer. An exception is x's error; the returned error is the line's.
func parseAnswer(f []byte, x *tcpExchange) error {
	unit, fc, pdu := f[6], f[7], f[8:]
	want := functionCode(x.req.Table)
	switch {
	case fc == want|0x80:
		if unit != x.unit && unit != 0xff { // gateways answer as 255
			return fmt.Errorf("exception from unit %d to a request for unit %d: %w", unit, x.unit, mb.ErrBadUnitId)
		}
		if len(pdu) != 1 {
			return fmt.Errorf("exception frame of %d bytes: %w", len(pdu), mb.ErrProtocolError)
		}
		x.err = exceptionError(pdu[0])
		return nil
	case fc != want:
		return fmt.Errorf("function code %d answers a request of %d: %w", fc, want, mb.ErrProtocolError)
	case unit != x.unit:
		return fmt.Errorf("answer from unit %d to a request for unit %d: %w", unit, x.unit, mb.ErrBadUnitId)
	}
	count := int(x.req.Count)
	size := 2 * count
	if want <= 2 {
		size = (count + 7) / 8
	}
	if len(pdu) != 1+size || int(pdu[0]) != size {
		return fmt.Errorf("%d data bytes for %d values: %w", len(pdu)-1, count, mb.ErrProtocolError)
	}
	data := pdu[1:]
	if want <= 2 {
		x.bits = make([]bool, count)
		for i := range x.bits {
			x.bits[i] = data[i/8]&(1<<(i%8)) != 0
		}
		return nil
	}
	x.regs = make([]uint16, count)
	for i := range x.regs {
		x.regs[i] = binary.BigEndian.Uint16(data[2*i:])
	}
	return nil
}

// exceptionError is the library's error for an exception code.
func exceptionError(code byte) error {
	for _, e := range exceptions {
		if e.code == code {
			return e.err
		}
	}
	return fmt.Errorf("unknown exception code (%d)", code)
}

// timeoutAs turns a deadline into the library's timeout error.
func timeoutAs(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return mb.ErrRequestTimedOut
	}
	return err
}
