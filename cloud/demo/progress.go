package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/bridge"
)

// progress prints a line every o.Progress: readings/s into the agents and into
// Kafka, the total in Kafka, the agents' buffer depth and oldest unsent
// reading, until ctx ends.
func progress(ctx context.Context, o Options, addrs Addrs, bm *bridge.Metrics, children []*child) {
	t := time.NewTicker(o.Progress)
	defer t.Stop()
	client := &http.Client{Timeout: 800 * time.Millisecond}
	p := newProgressMeter(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		statuses := make([]*fieldline.AgentStatus, len(addrs.AgentHTTP))
		for i, h := range addrs.AgentHTTP {
			if st, err := fetchStatus(client, h); err == nil {
				statuses[i] = st
			}
		}
		fmt.Fprintln(o.Out, p.line(time.Now(), statuses, counterValue(bm.Readings)))
		for _, c := range children {
			select {
			case err := <-c.done:
				fmt.Fprintf(o.Out, "%s exited: %v (see its log in %s)\n", c.name, err, o.Dir)
				c.done <- err
			default:
			}
		}
	}
}

// progressMeter makes the progress line from counts sampled at uneven
// times: a tick comes late when status fetches are slow, and an agent's
// fetch may fail. Each rate is the increase divided by the time it took;
// an agent whose status could not be fetched shows its last known
// figures, so the line never shows a negative rate or a rate of zero for
// readings that were only not counted yet.
type progressMeter struct {
	start  time.Time
	agents map[int]*agentMeter
	kafka  meter
}

// agentMeter is what is last known of one agent.
type agentMeter struct {
	in            meter
	depth, oldest float64
}

func newProgressMeter(start time.Time) *progressMeter {
	p := &progressMeter{start: start, agents: map[int]*agentMeter{}}
	p.kafka.update(0, start)
	return p
}

// line takes the agents' statuses at now (nil for one that could not be
// fetched) and the readings acknowledged by Kafka so far, and returns the
// progress line.
func (p *progressMeter) line(now time.Time, statuses []*fieldline.AgentStatus, inKafka float64) string {
	var inRate, depth, oldest float64
	for i, st := range statuses {
		a := p.agents[i]
		if a == nil {
			a = &agentMeter{}
			p.agents[i] = a
		}
		if st != nil {
			a.in.update(float64(st.ReadingsIn), now)
			a.depth, a.oldest = float64(st.Depth()), 0
			for _, l := range st.Lanes {
				a.oldest = max(a.oldest, float64(l.OldestUnsentAgeMs)/1000)
			}
		}
		inRate += a.in.rate
		depth += a.depth
		oldest = max(oldest, a.oldest)
	}
	kafkaRate := p.kafka.update(inKafka, now)
	return fmt.Sprintf("%6.0fs  in %7.0f/s  into Kafka %7.0f/s  total in Kafka %9.0f  buffer depth %6.0f  oldest unsent %5.1fs",
		now.Sub(p.start).Seconds(), inRate, kafkaRate, inKafka, depth, oldest)
}

// meter turns a count sampled now and then into a rate per second.
type meter struct {
	at    time.Time
	value float64
	rate  float64
	seen  bool
}

// update takes the count v at t and returns the rate since the last
// sample: the increase over the time between them. A count that went down
// (an agent restarted) counts from 0. A sample no later than the last
// keeps the last rate.
func (m *meter) update(v float64, t time.Time) float64 {
	if m.seen {
		if dt := t.Sub(m.at).Seconds(); dt > 0 {
			d := v - m.value
			if d < 0 {
				d = v
			}
			m.rate = d / dt
		} else {
			return m.rate
		}
	}
	m.at, m.value, m.seen = t, v, true
	return m.rate
}

func fetchStatus(c *http.Client, addr string) (*fieldline.AgentStatus, error) {
	resp, err := c.Get("http://" + addr + "/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st fieldline.AgentStatus
	return &st, json.NewDecoder(resp.Body).Decode(&st)
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if c.Write(&m) != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
