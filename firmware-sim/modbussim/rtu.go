package modbussim

import (
	"encoding/binary"
)

// maxADU is the longest Modbus RTU frame: unit, 253 bytes of PDU, CRC.
const maxADU = 256

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xa001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc16 is CRC-16/MODBUS (reflected polynomial 0xA001, initial 0xFFFF); on
// the wire its low byte comes first.
func crc16(b []byte) uint16 {
	c := uint16(0xffff)
	for _, x := range b {
		c = c>>8 ^ crcTable[byte(c)^x]
	}
	return c
}

// appendCRC appends the CRC of b, low byte first.
func appendCRC(b []byte) []byte {
	return binary.LittleEndian.AppendUint16(b, crc16(b))
}

// rtuStatus is the outcome of parseRTURequest.
type rtuStatus int

const (
	// rtuNeedMore: the bytes are a prefix of a possible frame.
	rtuNeedMore rtuStatus = iota
	// rtuFrame: a whole frame with a good CRC starts the buffer.
	rtuFrame
	// rtuGarbage: no frame starts at the first byte; drop it and retry.
	rtuGarbage
	// rtuUnknownLength: the function code does not tell the frame's
	// length; only 3.5 characters of silence end it.
	rtuUnknownLength
)

// rtuRequest is one request frame.
type rtuRequest struct {
	unit uint8
	fc   uint8
	data []byte // after the function code, without the CRC (aliases the input)
}

// requestLen returns the total length (with CRC) of the request frame that
// starts b, 0 if more bytes are needed to tell, or -1 if the function code
// does not say.
func requestLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case 0x07, 0x0b, 0x0c, 0x11: // exception status, comm event counter/log, report server id
		return 4
	case 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x08:
		return 8
	case 0x0f, 0x10: // write multiple coils / registers
		if len(b) < 7 {
			return 0
		}
		return 9 + int(b[6])
	case 0x16: // mask write register
		return 10
	case 0x17: // read/write multiple registers
		if len(b) < 11 {
			return 0
		}
		return 13 + int(b[10])
	}
	return -1
}

// parseRTURequest finds the request frame at the start of b by its length
// (told by the function code) and CRC. It is a pure function: n is the
// number of bytes the frame takes when st is rtuFrame.
func parseRTURequest(b []byte) (req rtuRequest, n int, st rtuStatus) {
	if len(b) >= 1 && b[0] > 247 {
		return req, 0, rtuGarbage // not a unit id (248..255 are reserved on a serial line)
	}
	if len(b) >= 2 && (b[1] == 0 || b[1]&0x80 != 0) {
		return req, 0, rtuGarbage // not a request function code
	}
	total := requestLen(b)
	switch {
	case total == 0:
		return req, 0, rtuNeedMore
	case total < 0:
		return req, 0, rtuUnknownLength
	case total > maxADU:
		return req, 0, rtuGarbage
	case len(b) < total:
		return req, 0, rtuNeedMore
	}
	if crc16(b[:total-2]) != binary.LittleEndian.Uint16(b[total-2:total]) {
		return req, 0, rtuGarbage
	}
	return rtuRequest{unit: b[0], fc: b[1], data: b[2 : total-2]}, total, rtuFrame
}

// parseRTUWhole takes b as one whole frame, as 3.5 characters of silence
// delimit it; for function codes whose length the parser does not know.
func parseRTUWhole(b []byte) (rtuRequest, bool) {
	if len(b) < 4 || len(b) > maxADU || b[0] > 247 {
		return rtuRequest{}, false
	}
	n := len(b)
	if crc16(b[:n-2]) != binary.LittleEndian.Uint16(b[n-2:]) {
		return rtuRequest{}, false
	}
	return rtuRequest{unit: b[0], fc: b[1], data: b[2 : n-2]}, true
}

// handlePDU runs one request against unit u and returns the response PDU
// (function code and data, or the exception function code and code).
func (s *Sim) handlePDU(u *unit, fc uint8, data []byte) []byte {
	exc := func(code uint8) []byte { return []byte{fc | 0x80, code} }
	switch fc {
	case 0x01, 0x02, 0x03, 0x04:
		if len(data) != 4 {
			return exc(excIllegalDataValue)
		}
		addr, qty := binary.BigEndian.Uint16(data), binary.BigEndian.Uint16(data[2:])
		t, limit := readTable(fc), uint16(125)
		if t.IsBit() {
			limit = 2000
		}
		if qty == 0 || qty > limit {
			return exc(excIllegalDataValue)
		}
		if int(addr)+int(qty) > 0x10000 {
			return exc(excIllegalDataAddress)
		}
		words, e, ok := s.read(u, t, addr, qty, s.now())
		if !ok {
			return nil // dropout: silence
		}
		if e != 0 {
			return exc(e)
		}
		if t.IsBit() {
			out := []byte{fc, byte((qty + 7) / 8)}
			out = append(out, make([]byte, (qty+7)/8)...)
			for i, w := range words {
				if w != 0 {
					out[2+i/8] |= 1 << (i % 8)
				}
			}
			return out
		}
		out := []byte{fc, byte(2 * qty)}
		for _, w := range words {
			out = binary.BigEndian.AppendUint16(out, w)
		}
		return out
	case 0x05, 0x06:
		if len(data) != 4 {
			return exc(excIllegalDataValue)
		}
		addr, v := binary.BigEndian.Uint16(data), binary.BigEndian.Uint16(data[2:])
		t := Holding
		if fc == 0x05 {
			t = Coil
			switch v {
			case 0xff00:
				v = 1
			case 0x0000:
			default:
				return exc(excIllegalDataValue)
			}
		}
		if e := s.write(u, t, addr, []uint16{v}); e != 0 {
			return exc(e)
		}
		return append([]byte{fc}, data...) // echo
	case 0x0f, 0x10:
		if len(data) < 5 {
			return exc(excIllegalDataValue)
		}
		addr, qty, nb := binary.BigEndian.Uint16(data), binary.BigEndian.Uint16(data[2:]), int(data[4])
		vals := data[5:]
		var words []uint16
		if fc == 0x0f {
			if qty == 0 || qty > 1968 || nb != int(qty+7)/8 || len(vals) != nb {
				return exc(excIllegalDataValue)
			}
			words = make([]uint16, qty)
			for i := range words {
				words[i] = uint16(vals[i/8]>>(i%8)) & 1
			}
		} else {
			if qty == 0 || qty > 123 || nb != 2*int(qty) || len(vals) != nb {
				return exc(excIllegalDataValue)
			}
			words = make([]uint16, qty)
			for i := range words {
				words[i] = binary.BigEndian.Uint16(vals[2*i:])
			}
		}
		t := Holding
		if fc == 0x0f {
			t = Coil
		}
		if e := s.write(u, t, addr, words); e != 0 {
			return exc(e)
		}
		return append([]byte{fc}, data[:4]...)
	}
	return exc(excIllegalFunction)
}

func readTable(fc uint8) Table {
	switch fc {
	case 0x01:
		return Coil
	case 0x02:
		return Discrete
	case 0x03:
		return Holding
	}
	return Input
}
