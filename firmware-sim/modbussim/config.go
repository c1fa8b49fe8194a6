package modbussim

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/confkit"
)

// SampleConfig is the built-in default configuration: a boiler (unit 1) and an
// energy meter (unit 2) whose registers follow realistic signals. It is what
// `fieldline-sim modbus` serves without --config.
//
//go:embed sample.yaml
var SampleConfig []byte

// Table is one of the four Modbus data tables.
type Table string

const (
	Coil     Table = "coil"     // read/write bits (function codes 1, 5, 15)
	Discrete Table = "discrete" // read-only bits (function code 2)
	Input    Table = "input"    // read-only 16-bit registers (function code 4)
	Holding  Table = "holding"  // read/write 16-bit registers (function codes 3, 6, 16)
)

// IsBit reports whether t holds bits rather than 16-bit registers.
func (t Table) IsBit() bool { return t == Coil || t == Discrete }

func (t Table) valid() bool {
	switch t {
	case Coil, Discrete, Input, Holding:
		return true
	}
	return false
}

// Type is how a value is laid out in registers.
type Type string

const (
	Bool    Type = "bool"    // a bit, or a register holding 0 or 1
	Int16   Type = "int16"   // one register, two's complement
	Uint16  Type = "uint16"  // one register
	Int32   Type = "int32"   // two registers
	Uint32  Type = "uint32"  // two registers
	Int64   Type = "int64"   // four registers
	Uint64  Type = "uint64"  // four registers
	Float32 Type = "float32" // two registers, IEEE 754
	Float64 Type = "float64" // four registers, IEEE 754
)

// Words is the number of 16-bit registers a value of type t takes (1 for
// bool in a register table).
func (t Type) Words() int {
	switch t {
	case Int32, Uint32, Float32:
		return 2
	case Int64, Uint64, Float64:
		return 4
	case Bool, Int16, Uint16:
		return 1
	}
	return 0
}

// Order is a byte order within a register or a word order across registers.
type Order string

const (
	Big    Order = "big"    // most significant first (AB within a word, high word first)
	Little Order = "little" // least significant first (BA within a word, low word first)
)

// Config is the simulator's configuration: the units it serves.
type Config struct {
	Units []UnitConfig `yaml:"units"`
}

// UnitConfig is one simulated Modbus device (a unit id on a bus or gateway).
type UnitConfig struct {
	ID   int    `yaml:"id"`   // unit (slave) id, 1..247
	Name string `yaml:"name"` // for logs
	// Strict makes reads of addresses that no register maps answer with
	// exception 2 (illegal data address), as most real devices do. When
	// false such addresses read as 0.
	Strict    bool             `yaml:"strict"`
	Fault     Fault            `yaml:"fault"`
	Registers []RegisterConfig `yaml:"registers"`
}

// RegisterConfig maps a signal onto one value in a table.
type RegisterConfig struct {
	Name    string `yaml:"name"`
	Table   Table  `yaml:"table"`
	Address int    `yaml:"address"` // protocol address, 0-based
	Type    Type   `yaml:"type"`    // default bool for bit tables, uint16 otherwise
	// ByteOrder orders the two bytes of each register, WordOrder the
	// registers of a 32- or 64-bit value: big/big is ABCD, big/little CDAB,
	// little/big BADC, little/little DCBA.
	ByteOrder Order `yaml:"byte_order"`
	WordOrder Order `yaml:"word_order"`
	// The register holds (value - Offset) / Scale; a client reads
	// raw*Scale+Offset. Scale 0 means 1.
	Scale  float64       `yaml:"scale"`
	Offset float64       `yaml:"offset"`
	Signal signal.Config `yaml:"signal"`
}

// Fault makes a unit misbehave: not answer at all, answer late, or answer
// every request with an exception code.
type Fault struct {
	// Dead: the unit does not answer. On RTU the line stays silent; over
	// Modbus TCP the connection stays silent until the fault is cleared (a
	// hung device).
	Dead bool `yaml:"dead"`
	// Delay holds every answer this long.
	Delay time.Duration `yaml:"delay"`
	// Exception, when non-zero, answers every request with this exception
	// code (1 illegal function, 2 illegal data address, 4 server device
	// failure, 6 busy, 11 gateway target failed to respond, ...).
	Exception uint8 `yaml:"exception"`
}

// SetDefaults fills in the zero fields documented on each type: register
// type (bool for bit tables, uint16 otherwise), byte and word order (big) and
// scale (1).
func (c *Config) SetDefaults() {
	for i := range c.Units {
		for j := range c.Units[i].Registers {
			r := &c.Units[i].Registers[j]
			if r.Type == "" {
				if r.Table.IsBit() {
					r.Type = Bool
				} else {
					r.Type = Uint16
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

// Check lists every problem of the configuration with its field path.
// Defaults are taken into account, so Check may run before SetDefaults.
func (c *Config) Check(p *confkit.Problems) {
	if len(c.Units) == 0 {
		p.Add("units", "at least one unit is required")
	}
	ids := map[int]int{}
	for i, u := range c.Units {
		q := p.At("units", i)
		if u.ID < 1 || u.ID > 247 {
			q.Add("id", "must be within 1..247, got %d", u.ID)
		}
		if prev, dup := ids[u.ID]; dup {
			q.Add("id", "unit %d is also units[%d]", u.ID, prev)
		}
		ids[u.ID] = i
		if u.Fault.Delay < 0 {
			q.In("fault").Add("delay", "must be ≥ 0, got %s", u.Fault.Delay)
		}
		u.checkRegisters(q)
	}
}

func (u *UnitConfig) checkRegisters(p *confkit.Problems) {
	names := map[string]int{}
	type span struct{ lo, hi, idx int }
	used := map[Table][]span{}
	for j, r := range u.Registers {
		q := p.At("registers", j)
		if r.Name == "" {
			q.Add("name", "is required")
		} else if prev, dup := names[r.Name]; dup {
			q.Add("name", "%q is also registers[%d]", r.Name, prev)
		} else {
			names[r.Name] = j
		}
		if !r.Table.valid() {
			q.Add("table", "unknown table %q (want coil, discrete, input or holding)", r.Table)
			continue
		}
		typ := r.Type
		if typ == "" {
			typ = Uint16
			if r.Table.IsBit() {
				typ = Bool
			}
		}
		if typ.Words() == 0 {
			q.Add("type", "unknown type %q (want bool, int16, uint16, int32, uint32, int64, uint64, float32 or float64)", r.Type)
			continue
		}
		if r.Table.IsBit() && typ != Bool {
			q.Add("type", "a %s holds bits: type must be bool, got %s", r.Table, typ)
			continue
		}
		for _, o := range []struct {
			field string
			v     Order
		}{{"byte_order", r.ByteOrder}, {"word_order", r.WordOrder}} {
			if o.v != "" && o.v != Big && o.v != Little {
				q.Add(o.field, "unknown order %q (want big or little)", o.v)
			}
		}
		n := 1
		if !r.Table.IsBit() {
			n = typ.Words()
		}
		if r.Address < 0 || r.Address+n-1 > 0xffff {
			q.Add("address", "a %s of %d register(s) at %d does not fit in 0..65535", typ, n, r.Address)
			continue
		}
		for _, s := range used[r.Table] {
			if r.Address <= s.hi && r.Address+n-1 >= s.lo {
				q.Add("address", "%s %d..%d overlaps registers[%d]", r.Table, r.Address, r.Address+n-1, s.idx)
			}
		}
		used[r.Table] = append(used[r.Table], span{r.Address, r.Address + n - 1, j})
		r.Signal.Check(q.In("signal"))
	}
}

func (r *RegisterConfig) String() string {
	return fmt.Sprintf("%s %s@%d", r.Name, r.Table, r.Address)
}
