package modbussim

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCRC16(t *testing.T) {
	// The example of the Modbus over serial line specification: read 10
	// holding registers of unit 1 from 0 is 01 03 00 00 00 0A C5 CD.
	got := appendCRC(mustHex(t, "01030000000a"))
	if !bytes.Equal(got, mustHex(t, "01030000000ac5cd")) {
		t.Fatalf("got % x", got)
	}
	if c := crc16([]byte("123456789")); c != 0x4b37 { // CRC-16/MODBUS check value
		t.Fatalf("check value %#x, want 0x4b37", c)
	}
}

func TestParseRTURequest(t *testing.T) {
	read := "01030000000ac5cd"
	write16 := hex.EncodeToString(appendCRC(mustHex(t, "021000100002040102030a")))
	unknown := hex.EncodeToString(appendCRC(mustHex(t, "012b0e0100"))) // read device identification
	cases := []struct {
		name string
		in   string
		st   rtuStatus
		n    int
		unit uint8
		fc   uint8
	}{
		{"empty", "", rtuNeedMore, 0, 0, 0},
		{"one byte", "01", rtuNeedMore, 0, 0, 0},
		{"partial read", read[:10], rtuNeedMore, 0, 0, 0},
		{"read", read, rtuFrame, 8, 1, 3},
		{"read followed by more", read + "0103", rtuFrame, 8, 1, 3},
		{"bad crc", read[:14] + "00", rtuGarbage, 0, 0, 0},
		{"reserved unit", "f8030000000a0000", rtuGarbage, 0, 0, 0},
		{"response-like function code", "0183020000", rtuGarbage, 0, 0, 0},
		{"write multiple header only", write16[:12], rtuNeedMore, 0, 0, 0},
		{"write multiple", write16, rtuFrame, 13, 2, 16},
		{"huge byte count", "01100000007ffe", rtuGarbage, 0, 0, 0},
		{"unknown length", unknown, rtuUnknownLength, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, n, st := parseRTURequest(mustHex(t, tc.in))
			if st != tc.st || n != tc.n || req.unit != tc.unit || req.fc != tc.fc {
				t.Fatalf("got status %d n %d unit %d fc %d, want %d %d %d %d", st, n, req.unit, req.fc, tc.st, tc.n, tc.unit, tc.fc)
			}
		})
	}
	if req, ok := parseRTUWhole(mustHex(t, unknown)); !ok || req.fc != 0x2b || len(req.data) != 3 {
		t.Fatalf("whole frame: %+v %v", req, ok)
	}
}

func TestHandlePDU(t *testing.T) {
	s := newSim(t, nil)
	u := s.units[1]
	temp, _, _ := s.Expected(1, "temperature", frozen)
	raw := uint16(int16(temp * 10))
	cases := []struct{ name, req, want string }{
		{"read holding 0", "0300000001", "0302" + hex.EncodeToString([]byte{byte(raw >> 8), byte(raw)})},
		{"quantity 0", "0300000000", "8303"},
		{"quantity 126", "030000007e", "8303"},
		{"past 65535", "03ffff0002", "8302"},
		{"short", "030000", "8303"},
		{"write single register", "0600090064", "0600090064"},
		{"read it back", "0300090001", "03020064"},
		{"write coil bad value", "0500001234", "8503"},
		{"write coil on", "050001ff00", "050001ff00"},
		{"read coils 1..8", "0100010008", "010101"},
		{"write multiple registers", "10000a00020400010002", "10000a0002"},
		{"byte count mismatch", "10000a0002030001000200", "9003"},
		{"write multiple coils", "0f001000030105", "0f00100003"},
		{"read them", "0100100003", "010105"},
		{"unknown function", "2b0e0100", "ab01"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := mustHex(t, tc.req)
			got := hex.EncodeToString(s.handlePDU(u, b[0], b[1:]))
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	// Strict unit 2: unmapped addresses are illegal.
	if got := hex.EncodeToString(s.handlePDU(s.units[2], 4, mustHex(t, "00100002"))); got != "8402" {
		t.Fatalf("strict unmapped read: %s", got)
	}
}

// FuzzParseRTURequest checks that the frame parser never panics, never
// claims more bytes than it has, and only returns frames whose CRC holds.
func FuzzParseRTURequest(f *testing.F) {
	f.Add(mustHex(f, "01030000000ac5cd"))
	f.Add(appendCRC(mustHex(f, "021000100002040102030a")))
	f.Add(appendCRC(mustHex(f, "010f00100003010500")))
	f.Add(mustHex(f, "0110000000ff"))
	f.Add(appendCRC(mustHex(f, "01170000000200000001020001")))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, n, st := parseRTURequest(b)
		switch st {
		case rtuFrame:
			if n < 4 || n > len(b) || n > maxADU {
				t.Fatalf("frame of %d bytes from %d", n, len(b))
			}
			if crc16(b[:n-2]) != uint16(b[n-2])|uint16(b[n-1])<<8 {
				t.Fatal("frame with a bad CRC")
			}
			if req.unit != b[0] || req.fc != b[1] || len(req.data) != n-4 {
				t.Fatalf("frame fields %+v", req)
			}
		case rtuNeedMore, rtuGarbage, rtuUnknownLength:
			if n != 0 {
				t.Fatalf("status %d with n %d", st, n)
			}
		default:
			t.Fatalf("status %d", st)
		}
		if w, ok := parseRTUWhole(b); ok && len(w.data) != len(b)-4 {
			t.Fatalf("whole frame data %d of %d", len(w.data), len(b))
		}
	})
}

// FuzzHandlePDU feeds any request PDU to the simulator's request handler
// (what the RTU slave runs for every frame): it never panics, and answers
// either nothing (a dropout), an exception for the same function code, or
// a response of that function code whose length matches what it says.
func FuzzHandlePDU(f *testing.F) {
	s, err := New(DefaultConfig(), Options{Now: frozenNow})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	for _, seed := range []string{"0300000001", "030000007d", "0100000010", "0200000001", "0400000010", "0600090064",
		"050001ff00", "10000a00020400010002", "0f001000030105", "2b0e0100", "03ffff0002", "10"} {
		f.Add(uint8(1), mustHex(f, seed))
		f.Add(uint8(2), mustHex(f, seed))
	}
	f.Fuzz(func(t *testing.T, unit uint8, pdu []byte) {
		if len(pdu) == 0 {
			return
		}
		u := s.units[1+unit%2]
		fc := pdu[0]
		resp := s.handlePDU(u, fc, pdu[1:])
		if resp == nil {
			t.Fatal("no answer outside a dropout")
		}
		switch {
		case resp[0] == fc|0x80:
			if len(resp) != 2 || resp[1] == 0 {
				t.Fatalf("exception response % x", resp)
			}
		case resp[0] != fc:
			t.Fatalf("answered fc %#x to %#x", resp[0], fc)
		case fc >= 1 && fc <= 4:
			if len(resp) < 2 || int(resp[1]) != len(resp)-2 {
				t.Fatalf("read response % x: byte count disagrees", resp)
			}
		case fc == 5 || fc == 6 || fc == 15 || fc == 16:
			if len(resp) != 5 {
				t.Fatalf("write response % x", resp)
			}
		}
		if len(resp) > 253 {
			t.Fatalf("PDU of %d bytes", len(resp))
		}
	})
}
