package mqtt

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/fieldline/fieldline/firmware-sim/mqttsim"
	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/confkit"
)

// The simulator's default streams, read through the agent config it ships,
// arrive with the values the signals have at the publishing times.
func TestSimulatorStreams(t *testing.T) {
	b := startBroker(t)
	simCfg, err := mqttsim.LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	lab := -1
	for i, s := range simCfg.Streams {
		if s.Topic == "plant/lab/temp" {
			lab = i
		}
	}
	simCfg.Streams[lab].MalformedEvery = 2 // every other lab message is garbage
	epoch := time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)
	sim, err := mqttsim.New(simCfg, mqttsim.Options{Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}

	var agentCfg Config
	if err := confkit.Decode("agent-sample.yaml", mqttsim.SampleAgentConfig, &agentCfg); err != nil {
		t.Fatal(err)
	}
	agentCfg.Brokers = []string{b.URL()}
	agentCfg.Reconnect = fastReconnect
	m := NewMetrics(nil)
	src, err := New(agentCfg, Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	running(t, src, &s)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sim.Connect(ctx, b.URL()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sim.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	const rounds = 6
	times := make([]time.Time, rounds)
	for k := range rounds {
		times[k] = epoch.Add(time.Duration(k)*1500*time.Millisecond + 7*time.Millisecond)
		if _, err := sim.PublishAt(ctx, times[k]); err != nil {
			t.Fatal(err)
		}
	}

	// What each sensor must have read, computed from the signals alone.
	sig := func(c signal.Config) *signal.Signal { return signal.MustNew(c, epoch) }
	byTopic := map[string]mqttsim.Stream{}
	for _, st := range simCfg.Streams {
		byTopic[st.Topic] = st
	}
	type expect struct {
		sensor string
		s      *signal.Signal
		scale  float64
		stamp  bool // the message carries its time
		every  int  // a malformed message every n
	}
	exps := []expect{
		{"plant.boiler.temp", sig(*byTopic["plant/boiler/temp"].Signal), 1, false, 0},
		{"plant.pump.pressure_bar", sig(*byTopic["plant/pump/pressure_kpa"].Signal), 0.01, false, 0},
		{"plant.line1.temp", sig(byTopic["plant/line1/env"].Fields[0].Signal), 1, true, 0},
		{"plant.line1.humidity", sig(byTopic["plant/line1/env"].Fields[1].Signal), 1, true, 0},
		{"plant.meter.energy_kwh", sig(byTopic["plant/meter/env"].Fields[0].Signal), 0.001, true, 0},
		{"plant.sump.level_high", sig(*byTopic["plant/sump/level/high"].Signal), 1, false, 0},
		{"plant.lab.temp", sig(*byTopic["plant/lab/temp"].Signal), 1, false, 2},
	}
	want := 0
	for _, e := range exps {
		want += rounds
		if e.every > 0 {
			want -= rounds / e.every
		}
	}
	eventually(t, "every reading of the simulated streams", func() bool { return s.len() == want })
	for _, e := range exps {
		got := s.of(e.sensor)
		var wantVals []float64
		var wantTimes []time.Time
		for k, tk := range times {
			if e.every > 0 && (k+1)%e.every == 0 {
				continue // the garbage message
			}
			v, ok := e.s.At(tk)
			if !ok {
				continue
			}
			wantVals = append(wantVals, v*e.scale)
			wantTimes = append(wantTimes, tk.Truncate(time.Millisecond))
		}
		if len(got) != len(wantVals) {
			t.Errorf("%s: %d readings, want %d", e.sensor, len(got), len(wantVals))
			continue
		}
		for i, r := range got {
			if math.Abs(r.Value-wantVals[i]) > 1e-9 {
				t.Errorf("%s[%d] = %g, want %g", e.sensor, i, r.Value, wantVals[i])
			}
			if e.stamp && r.TimeNs != wantTimes[i].UnixNano() {
				t.Errorf("%s[%d] stamped %v, want %v", e.sensor, i, time.Unix(0, r.TimeNs).UTC(), wantTimes[i])
			}
		}
	}
	if st := sim.Stats(); st.Malformed != rounds/2 || st.Published != int64(rounds*len(simCfg.Streams)) {
		t.Errorf("sim stats %+v", st)
	}
	bad := func() float64 {
		return (m.PayloadErrors.WithLabelValues("mqtt/plant", string(ReasonNotNumber))).Value() +
			(m.PayloadErrors.WithLabelValues("mqtt/plant", string(ReasonEmpty))).Value()
	}
	// Messages on different topics are not ordered with each other: the
	// last garbage message may be handled after the last good reading.
	eventually(t, "one payload error per garbage message", func() bool { return bad() >= rounds/2 })
	if got := bad(); got != rounds/2 {
		t.Errorf("payload errors %g, want %d (one per garbage message)", got, rounds/2)
	}
}
