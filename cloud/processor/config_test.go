package processor

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/internal/confkit"
)

// daemonFile is the shape of `fieldline-cloud process`'s config file.
type daemonFile struct {
	Processor Config `yaml:"processor"`
	HTTP      struct {
		Listen string `yaml:"listen"`
	} `yaml:"http"`
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	Memory struct {
		Limit     confkit.ByteSize `yaml:"limit"`
		GCPercent int              `yaml:"gc_percent"`
	} `yaml:"memory"`
}

// TestSampleConfigIsTheDefaults: the sample decodes strictly and says what
// the defaults are.
func TestSampleConfigIsTheDefaults(t *testing.T) {
	var f daemonFile
	if err := confkit.Decode("sample.yaml", SampleConfig, &f); err != nil {
		t.Fatal(err)
	}
	var def Config
	def.SetDefaults()
	got := f.Processor
	got.SetDefaults()
	if !reflect.DeepEqual(got, def) {
		t.Fatalf("sample:\n%+v\ndefaults:\n%+v", got, def)
	}
	var p confkit.Problems
	got.Check(&p)
	if p.Len() != 0 {
		t.Fatalf("sample has problems: %v", p.List())
	}
}

// TestConfigProblems: every problem is listed at once, by field path.
func TestConfigProblems(t *testing.T) {
	yaml := `
kafka:
  format: avro
  readings_topic: same
  aggregates_topic: same
  transaction_timeout: 10ms
  replication_factor: 0
window:
  windows: [{size: 10s}, {size: 10s}, {size: 1m, hop: 2m}]
  allowed_lateness: -1s
  relative_accuracy: 2
commit_interval: 20s
`
	var c Config
	err := confkit.Decode("p.yaml", []byte(yaml), &c)
	if err == nil {
		c.SetDefaults()
		var p confkit.Problems
		c.Check(&p)
		err = p.Err("p.yaml")
	}
	var ce *confkit.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a confkit.Error", err)
	}
	for _, want := range []string{"kafka.format", "kafka.aggregates_topic", "kafka.transaction_timeout", "kafka.replication_factor",
		"window.windows[1].size", "window.windows[2].hop", "window.allowed_lateness", "window.relative_accuracy", "commit_interval"} {
		if !strings.Contains(err.Error(), want+":") {
			t.Errorf("no problem named %s in:\n%v", want, err)
		}
	}
	if _, err := New(c, Options{}); err == nil {
		t.Fatal("New took a config with problems")
	}
}
