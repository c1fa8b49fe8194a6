package dashboard

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
)

type daemonFile struct {
	Dashboard Config `yaml:"dashboard"`
	Log       struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
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
	got := f.Dashboard
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

// TestConfigProblems: every problem at once, by its path.
func TestConfigProblems(t *testing.T) {
	c := Config{History: -time.Second, RawPoints: -1, Push: PushConfig{ClientQueue: -2}, Kafka: KafkaConfig{ReadingsTopic: "x", AggregatesTopic: "x", Brokers: []string{""}}}
	c.SetDefaults()
	var p confkit.Problems
	c.Check(&p)
	var got []string
	for _, pr := range p.List() {
		got = append(got, pr.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"history", "raw_points", "push.client_queue", "kafka.aggregates_topic", "kafka.brokers[0]"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %s:\n%s", want, all)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d problems, want 5:\n%s", len(got), all)
	}
}
