package modbus

import (
	_ "embed"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
)

// SampleConfig is a commented example of one Modbus source.
//
//go:embed sample.yaml
var SampleConfig []byte

// OnError says what a failed read yields for each of its values.
type OnError string

const (
	// OnErrorBad emits, for every value of a failed read, a reading with
	// Quality bad and Value NaN (as MQTT's bad readings): no number an
	// aggregate could mistake for a measurement.
	OnErrorBad OnError = "bad"
	// OnErrorSkip emits nothing for a failed read.
	OnErrorSkip OnError = "skip"
)

// MaxPipeline bounds Config.Pipeline.
const MaxPipeline = 16

// Config is one Modbus connection: a TCP device, an RTU-over-TCP gateway or
// one serial bus, with the units behind it. Each Config is one Source; give
// each TCP device its own, so that one device never waits for another.
type Config struct {
	// Name identifies the source: readings' metrics and logs say
	// "modbus/<name>".
	Name string `yaml:"name"`
	// URL is tcp://host:port, rtuovertcp://host:port or rtu:///dev/ttyUSB0.
	URL    string `yaml:"url"`
	Serial Serial `yaml:"serial"` // rtu:// only
	// Timeout bounds one request. Default 1s for tcp, 500ms for RTU.
	Timeout time.Duration `yaml:"timeout"`
	// Pipeline is how many requests of a poll are sent before their
	// answers are read (tcp:// only; default 1, one at a time). Modbus TCP
	// tells answers apart by transaction id, and a device that reads its
	// requests from the stream one after another answers them all; one
	// that drops requests sent together (or closes the line on them) is
	// recognised when a request it did not answer together is answered
	// alone, and the source then goes back to one at a time and says so
	// in its log.
	Pipeline int `yaml:"pipeline"`
	// Retries is how many times a timed-out or failed request is sent
	// again, waiting RetryBackoff, then twice that, ... Default 1 (nil).
	// A unit already backed off gets no retry.
	Retries      *int          `yaml:"retries"`
	RetryBackoff time.Duration `yaml:"retry_backoff"` // default 50ms
	// UnitBackoff is how long a unit that did not answer (after its
	// retries) is skipped: Min after the first failure, doubling up to Max.
	// While skipped, its polls yield bad readings (or none) without
	// touching the line. Defaults 1s and 1m.
	UnitBackoff Backoff `yaml:"unit_backoff"`
	// ReconnectBackoff spaces connection attempts when the device refuses
	// or drops the connection: the source runtime waits Min, doubling up
	// to Max, each wait spread over its upper half. Defaults 500ms and 30s.
	ReconnectBackoff Backoff `yaml:"reconnect_backoff"`
	// OnError is bad (default) or skip.
	OnError OnError `yaml:"on_error"`
	// MaxRegistersPerRequest (≤ 125, default 125), MaxBitsPerRequest
	// (≤ 2000, default 2000) and MaxGap (default 0) bound how values are
	// coalesced into requests; units may lower them.
	MaxRegistersPerRequest int `yaml:"max_registers_per_request"`
	MaxBitsPerRequest      int `yaml:"max_bits_per_request"`
	MaxGap                 int `yaml:"max_gap"`
	// Spread staggers the first poll of each group over its interval so
	// that groups do not all hit the line at once. Default true.
	Spread *bool        `yaml:"spread"`
	Units  []UnitConfig `yaml:"units"`
}

// Serial is the line of an rtu:// connection.
type Serial struct {
	Baud     int    `yaml:"baud"`      // default 19200
	DataBits int    `yaml:"data_bits"` // 7 or 8, default 8
	Parity   string `yaml:"parity"`    // none (default), even or odd
	StopBits int    `yaml:"stop_bits"` // 1 or 2; default 2 without parity, 1 with
}

// Backoff is a growing wait: Min first, doubling up to Max.
type Backoff struct {
	Min time.Duration `yaml:"min"`
	Max time.Duration `yaml:"max"`
}

// UnitConfig is one unit (slave) id behind the connection.
type UnitConfig struct {
	ID int `yaml:"id"` // 1..247; 0 or 255 only over tcp:// (devices that ignore it)
	// Per-device limits; 0 takes the connection's.
	MaxRegistersPerRequest int           `yaml:"max_registers_per_request"`
	MaxBitsPerRequest      int           `yaml:"max_bits_per_request"`
	MaxGap                 *int          `yaml:"max_gap"`
	Groups                 []GroupConfig `yaml:"groups"`
}

// GroupConfig is a set of values polled together every Interval. Values of
// one group are read back to back and stamped with the time of their read.
type GroupConfig struct {
	Name      string           `yaml:"name"`
	Interval  time.Duration    `yaml:"interval"`
	Registers []RegisterConfig `yaml:"registers"`
}

// RegisterConfig is one value: where it is, how to decode it, and the
// sensor id its readings carry.
type RegisterConfig struct {
	Sensor    string  `yaml:"sensor"`     // e.g. boiler.temp; unique within the source
	Table     Table   `yaml:"table"`      // coil, discrete, input or holding
	Address   int     `yaml:"address"`    // 0-based protocol address (register 40001 is holding 0)
	Type      Type    `yaml:"type"`       // default bool for coil/discrete, uint16 otherwise
	ByteOrder Order   `yaml:"byte_order"` // big (default) or little
	WordOrder Order   `yaml:"word_order"` // big (default, high word first) or little
	Scale     float64 `yaml:"scale"`      // value = raw*scale + offset; 0 means 1
	Offset    float64 `yaml:"offset"`
	Unit      string  `yaml:"unit"`    // engineering unit, e.g. °C; informational
	Counter   bool    `yaml:"counter"` // readings are KindCounter (a monotonically increasing count)
}

// transport is the scheme of the URL.
func (c *Config) transport() string {
	scheme, _, _ := strings.Cut(c.URL, "://")
	return scheme
}

// IsRTU reports whether the connection carries RTU frames (a serial line
// or an RTU-over-TCP gateway): a shared bus without transaction ids.
func (c *Config) IsRTU() bool { t := c.transport(); return t == "rtu" || t == "rtuovertcp" }

// SetDefaults fills in every zero field with its documented default.
func (c *Config) SetDefaults() {
	if c.Timeout == 0 {
		c.Timeout = time.Second
		if c.IsRTU() {
			c.Timeout = 500 * time.Millisecond
		}
	}
	if c.Pipeline == 0 {
		c.Pipeline = 1
	}
	if c.Retries == nil {
		one := 1
		c.Retries = &one
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 50 * time.Millisecond
	}
	c.UnitBackoff.defaults(time.Second, time.Minute)
	c.ReconnectBackoff.defaults(500*time.Millisecond, 30*time.Second)
	if c.OnError == "" {
		c.OnError = OnErrorBad
	}
	if c.MaxRegistersPerRequest == 0 {
		c.MaxRegistersPerRequest = MaxRegistersPerRequest
	}
	if c.MaxBitsPerRequest == 0 {
		c.MaxBitsPerRequest = MaxBitsPerRequest
	}
	if c.Spread == nil {
		t := true
		c.Spread = &t
	}
	if c.transport() == "rtu" {
		if c.Serial.Baud == 0 {
			c.Serial.Baud = 19200
		}
		if c.Serial.DataBits == 0 {
			c.Serial.DataBits = 8
		}
		c.Serial.Parity = strings.ToLower(c.Serial.Parity)
		if c.Serial.Parity == "" {
			c.Serial.Parity = "none"
		}
		if c.Serial.StopBits == 0 {
			c.Serial.StopBits = 1
			if c.Serial.Parity == "none" {
				c.Serial.StopBits = 2
			}
		}
	}
	for i := range c.Units {
		u := &c.Units[i]
		if u.MaxRegistersPerRequest == 0 {
			u.MaxRegistersPerRequest = c.MaxRegistersPerRequest
		}
		if u.MaxBitsPerRequest == 0 {
			u.MaxBitsPerRequest = c.MaxBitsPerRequest
		}
		if u.MaxGap == nil {
			g := c.MaxGap
			u.MaxGap = &g
		}
		for j := range u.Groups {
			for k := range u.Groups[j].Registers {
				r := &u.Groups[j].Registers[k]
				if r.Type == "" {
					r.Type = Uint16
					if r.Table.IsBit() {
						r.Type = Bool
					}
				}
				if r.ByteOrder == "" {
					r.ByteOrder = Big
				}
				if r.WordOrder == "" {
					r.WordOrder = Big
				}
				if r.Scale == 0 {
					r.Scale = 1
				}
			}
		}
	}
}

func (b *Backoff) defaults(lo, hi time.Duration) {
	if b.Min == 0 {
		b.Min = lo
	}
	if b.Max == 0 {
		b.Max = max(hi, b.Min)
	}
}

// Check lists every problem of the configuration with its field path.
// Zero fields count as their defaults (Check works on a copy with
// SetDefaults applied), so it may run before SetDefaults, as confkit does.
func (c *Config) Check(p *confkit.Problems) {
	d := c.clone()
	d.SetDefaults()
	d.check(p)
}

// clone copies c deeply enough for SetDefaults not to touch c.
func (c *Config) clone() *Config {
	d := *c
	d.Units = append([]UnitConfig(nil), c.Units...)
	for i := range d.Units {
		u := &d.Units[i]
		u.Groups = append([]GroupConfig(nil), u.Groups...)
		for j := range u.Groups {
			u.Groups[j].Registers = append([]RegisterConfig(nil), u.Groups[j].Registers...)
		}
	}
	return &d
}

func (c *Config) check(p *confkit.Problems) {
	if c.Name == "" {
		p.Add("name", "is required")
	}
	scheme, rest, ok := strings.Cut(c.URL, "://")
	switch {
	case c.URL == "":
		p.Add("url", "is required (tcp://host:port, rtuovertcp://host:port or rtu:///dev/ttyUSB0)")
	case !ok:
		p.Add("url", "%q has no scheme (want tcp://, rtuovertcp:// or rtu://)", c.URL)
	case scheme == "tcp" || scheme == "rtuovertcp":
		if _, port, err := net.SplitHostPort(rest); err != nil || port == "" {
			p.Add("url", "%q: want %s://host:port", c.URL, scheme)
		}
	case scheme == "rtu":
		if rest == "" {
			p.Add("url", "%q names no serial device", c.URL)
		}
	default:
		p.Add("url", "unknown scheme %q (want tcp, rtuovertcp or rtu)", scheme)
	}
	if scheme == "rtu" {
		s, q := c.Serial, p.In("serial")
		if s.Baud <= 0 {
			q.Add("baud", "must be > 0, got %d", s.Baud)
		}
		if s.DataBits != 7 && s.DataBits != 8 {
			q.Add("data_bits", "must be 7 or 8, got %d", s.DataBits)
		}
		if s.Parity != "none" && s.Parity != "even" && s.Parity != "odd" {
			q.Add("parity", "must be none, even or odd, got %q", s.Parity)
		}
		if s.StopBits != 1 && s.StopBits != 2 {
			q.Add("stop_bits", "must be 1 or 2, got %d", s.StopBits)
		}
	} else if c.Serial != (Serial{}) {
		p.Add("serial", "applies to rtu:// only")
	}
	if c.Timeout <= 0 {
		p.Add("timeout", "must be > 0, got %s", c.Timeout)
	}
	switch {
	case c.Pipeline < 0 || c.Pipeline > MaxPipeline:
		p.Add("pipeline", "must be within 1..%d, got %d", MaxPipeline, c.Pipeline)
	case c.Pipeline > 1 && scheme != "tcp":
		p.Add("pipeline", "applies to tcp:// only (an RTU line carries one request at a time)")
	}
	if c.Retries != nil && *c.Retries < 0 {
		p.Add("retries", "must be ≥ 0, got %d", *c.Retries)
	}
	if c.RetryBackoff < 0 {
		p.Add("retry_backoff", "must be ≥ 0, got %s", c.RetryBackoff)
	}
	c.UnitBackoff.check(p.In("unit_backoff"))
	c.ReconnectBackoff.check(p.In("reconnect_backoff"))
	if c.OnError != OnErrorBad && c.OnError != OnErrorSkip {
		p.Add("on_error", "must be bad or skip, got %q", c.OnError)
	}
	checkLimits(p, c.MaxRegistersPerRequest, c.MaxBitsPerRequest, c.MaxGap)
	if len(c.Units) == 0 {
		p.Add("units", "at least one unit is required")
	}
	units, sensors := map[int]int{}, map[string]string{}
	for i := range c.Units {
		c.Units[i].check(p.At("units", i), scheme, units, i, sensors)
	}
}

func checkLimits(p *confkit.Problems, regs, bits, gap int) {
	if regs < 1 || regs > MaxRegistersPerRequest {
		p.Add("max_registers_per_request", "must be within 1..125, got %d", regs)
	}
	if bits < 1 || bits > MaxBitsPerRequest {
		p.Add("max_bits_per_request", "must be within 1..2000, got %d", bits)
	}
	if gap < 0 {
		p.Add("max_gap", "must be ≥ 0, got %d", gap)
	}
}

func (b Backoff) check(p *confkit.Problems) {
	if b.Min <= 0 {
		p.Add("min", "must be > 0, got %s", b.Min)
	}
	if b.Max < b.Min {
		p.Add("max", "must be ≥ min (%s), got %s", b.Min, b.Max)
	}
}

func (u *UnitConfig) check(p *confkit.Problems, scheme string, units map[int]int, i int, sensors map[string]string) {
	switch {
	case u.ID >= 1 && u.ID <= 247:
	case (u.ID == 0 || u.ID == 255) && scheme == "tcp":
	default:
		p.Add("id", "must be within 1..247 (0 or 255 only over tcp://), got %d", u.ID)
	}
	if prev, dup := units[u.ID]; dup {
		p.Add("id", "unit %d is also units[%d]", u.ID, prev)
	}
	units[u.ID] = i
	gap := 0
	if u.MaxGap != nil {
		gap = *u.MaxGap
	}
	checkLimits(p, u.MaxRegistersPerRequest, u.MaxBitsPerRequest, gap)
	if len(u.Groups) == 0 {
		p.Add("groups", "at least one group is required")
	}
	for j, g := range u.Groups {
		q := p.At("groups", j)
		if g.Interval <= 0 {
			q.Add("interval", "must be > 0, got %s", g.Interval)
		}
		if len(g.Registers) == 0 {
			q.Add("registers", "at least one register is required")
		}
		for k, r := range g.Registers {
			path := fmt.Sprintf("units[%d].groups[%d].registers[%d]", i, j, k)
			r.check(q.At("registers", k), u, path, sensors)
		}
	}
}

func (r *RegisterConfig) check(p *confkit.Problems, u *UnitConfig, path string, sensors map[string]string) {
	if r.Sensor == "" {
		p.Add("sensor", "is required")
	} else if prev, dup := sensors[r.Sensor]; dup {
		p.Add("sensor", "%q is also %s", r.Sensor, prev)
	} else {
		sensors[r.Sensor] = path
	}
	if !r.Table.valid() {
		p.Add("table", "unknown table %q (want coil, discrete, input or holding)", r.Table)
		return
	}
	n := r.Type.Words()
	if n == 0 {
		p.Add("type", "unknown type %q (want bool, int16, uint16, int32, uint32, int64, uint64, float32 or float64)", r.Type)
		return
	}
	if r.Table.IsBit() {
		if r.Type != Bool {
			p.Add("type", "a %s is a bit: type must be bool, got %s", r.Table, r.Type)
		}
		n = 1
	}
	if !r.ByteOrder.valid() {
		p.Add("byte_order", "must be big or little, got %q", r.ByteOrder)
	}
	if !r.WordOrder.valid() {
		p.Add("word_order", "must be big or little, got %q", r.WordOrder)
	}
	if r.Address < 0 || r.Address+n-1 > 0xffff {
		p.Add("address", "%s of %d register(s) at %d does not fit in 0..65535", r.Type, n, r.Address)
	}
	if !r.Table.IsBit() && n > u.MaxRegistersPerRequest {
		p.Add("type", "%s takes %d registers, more than max_registers_per_request %d", r.Type, n, u.MaxRegistersPerRequest)
	}
	if r.Counter && r.Table.IsBit() {
		p.Add("counter", "a bit cannot be a counter")
	}
}
