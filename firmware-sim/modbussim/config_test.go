package modbussim

import (
	"errors"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/internal/confkit"
)

func TestSampleConfig(t *testing.T) {
	c, err := LoadConfig("sample.yaml", SampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Units) != 2 || c.Units[0].ID != 1 || c.Units[1].ID != 2 {
		t.Fatalf("units: %+v", c.Units)
	}
	byName := map[string]RegisterConfig{}
	for _, r := range c.Units[0].Registers {
		byName[r.Name] = r
	}
	for name, want := range map[string]struct {
		typ   Type
		addr  int
		words Order
	}{
		"temperature": {Int16, 0, Big}, "energy": {Uint32, 2, Big},
		"flow": {Float32, 4, Big}, "flow_cdab": {Float32, 6, Little},
	} {
		r, ok := byName[name]
		if !ok || r.Type != want.typ || r.Address != want.addr || r.WordOrder != want.words {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if _, err := New(c, Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigProblems(t *testing.T) {
	in := `
units:
  - id: 0
    registers:
      - {name: a, table: holding, address: 0, type: float32}
      - {name: a, table: holding, address: 1}
      - {name: c, table: coil, address: 0, type: int16}
      - {name: d, table: holding, address: 65535, type: uint32}
      - {name: e, table: attic, address: 0}
      - {name: f, table: input, address: 0, type: int16, byte_order: middle}
      - {name: g, table: input, address: 1, type: int128}
      - {name: h, table: input, address: 5, signal: {shape: wobble}}
  - id: 0
    fault: {delay: -1s}
`
	var c Config
	err := confkit.Decode("sim.yaml", []byte(in), &c)
	var ce *confkit.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *confkit.Error", err)
	}
	for _, want := range []string{
		"units[0].id: must be within 1..247, got 0",
		`units[0].registers[1].name: "a" is also registers[0]`,
		"units[0].registers[1].address: holding 1..1 overlaps registers[0]",
		"units[0].registers[2].type: a coil holds bits: type must be bool, got int16",
		"units[0].registers[3].address: a uint32 of 2 register(s) at 65535 does not fit in 0..65535",
		`units[0].registers[4].table: unknown table "attic"`,
		`units[0].registers[5].byte_order: unknown order "middle"`,
		`units[0].registers[6].type: unknown type "int128"`,
		`units[0].registers[7].signal.shape: unknown shape "wobble"`,
		"units[1].id: unit 0 is also units[0]",
		"units[1].fault.delay: must be ≥ 0, got -1s",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if len(ce.Problems) != 12 {
		t.Errorf("%d problems, want 12:\n%v", len(ce.Problems), err)
	}
}
