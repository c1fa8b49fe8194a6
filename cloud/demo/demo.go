package demo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fieldline/fieldline/internal/embedded"
)

// Options configure a demo run.
type Options struct {
	// Bin is the folder holding fieldline-agent and fieldline-sim.
	Bin string
	// Agents is how many agents to run. Default 3: the first reads a
	// boiler and an energy meter over Modbus, the second a plant's MQTT
	// sensors, the third a chiller over Modbus and GPIO pins (in this
	// process: simulated pins live in the process that reads them).
	Agents int
	// Interval between polls of the Modbus registers. Default 500ms.
	Interval time.Duration
	// NATSPort, KafkaPort and DashboardPort; 0 picks free ports.
	NATSPort, KafkaPort, DashboardPort int
	// AnomalyAfter is when the boiler's temperature first spikes (by 30 °C
	// for AnomalyFor), AnomalyEvery how often it does again. Defaults 45s,
	// 20s and 3m.
	AnomalyAfter, AnomalyFor, AnomalyEvery time.Duration
	// Dir holds configs, buffers and logs; empty means a temporary folder
	// removed at the end.
	Dir string
	// Duration stops the demo after this long; 0 runs until ctx ends.
	Duration time.Duration
	// Progress is how often the progress line is printed. Default 5s.
	Progress time.Duration
	// Out receives the addresses and the progress line; Log the details.
	Out io.Writer
	Log *slog.Logger
	// Ready, when set, is called with the addresses once everything runs.
	Ready func(Addrs)
}

func (o *Options) setDefaults() {
	if o.Agents <= 0 {
		o.Agents = 3
	}
	if o.Interval <= 0 {
		o.Interval = 500 * time.Millisecond
	}
	if o.AnomalyAfter <= 0 {
		o.AnomalyAfter = 45 * time.Second
	}
	if o.AnomalyFor <= 0 {
		o.AnomalyFor = 20 * time.Second
	}
	if o.AnomalyEvery <= 0 {
		o.AnomalyEvery = 3 * time.Minute
	}
	if o.Progress <= 0 {
		o.Progress = 5 * time.Second
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Addrs are where the demo's parts listen.
type Addrs struct {
	Dashboard        string
	NATS, Kafka, Sim string
	MQTT             string
	AgentHTTP        []string
	// FleetKey is the private key the demo's agents trust, for
	// `fieldline-cloud fleet rules push --fleet demo --key FleetKey`.
	FleetKey string
}

type child struct {
	name string
	cmd  *exec.Cmd
	done chan error
}

// Run runs the demo until ctx ends or Duration passes, then stops
// everything: agents first (they flush), then the simulators, the
// dashboard, the processor, the bridge, Kafka and NATS.
func Run(ctx context.Context, o Options) error {
	o.setDefaults()
	for _, b := range []string{"fieldline-agent", "fieldline-sim"} {
		if _, err := os.Stat(filepath.Join(o.Bin, b)); err != nil {
			return fmt.Errorf("demo needs %s in %s (run make build): %w", b, o.Bin, err)
		}
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "fieldline-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	start := time.Now()

	nats, err := embedded.StartNATS(embedded.NATSOptions{Port: o.NATSPort, StoreDir: filepath.Join(o.Dir, "nats")})
	if err != nil {
		return err
	}
	defer nats.Stop()
	fleetKey, trusted, stopFleet, err := startFleet(o, nats.URL())
	if err != nil {
		return err
	}
	defer stopFleet()
	kafka, err := embedded.StartKafka(embedded.KafkaOptions{Port: o.KafkaPort})
	if err != nil {
		return err
	}
	defer kafka.Close()
	addrs := Addrs{NATS: nats.URL(), Kafka: kafka.ListenAddrs()[0], FleetKey: fleetKey}

	cl, err := startCloud(o, nats.URL(), kafka.ListenAddrs())
	if err != nil {
		return err
	}
	defer cl.stop()
	addrs.Dashboard = "http://" + cl.dash.Addr() + "/"
	fmt.Fprintf(o.Out, "Fieldline demo: open the dashboard at %s  (Ctrl-C stops the demo)\n", addrs.Dashboard)

	var children []*child
	defer func() { stopChildren(children, o.Log) }()
	sim, simAddr, err := startSim(o, start)
	if err != nil {
		return err
	}
	children = append(children, sim)
	addrs.Sim = simAddr
	mq, mqAddr, err := startMQTTSim(o)
	if err != nil {
		return err
	}
	children = append(children, mq)
	addrs.MQTT = mqAddr

	var inproc []*inprocAgent
	defer func() {
		for _, a := range inproc {
			a.stop()
		}
	}()
	gpioTaken := false
	for i := 1; i <= o.Agents; i++ {
		id := fmt.Sprintf("demo-%03d", i)
		port, err := freePort()
		if err != nil {
			return err
		}
		httpAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		dir := filepath.Join(o.Dir, id)
		switch (i - 1) % 3 {
		case 0:
			c, err := startAgent(o, id, agentConfig(id, dir, nats.URL(), httpAddr, trusted, modbusBoilerSource(simAddr, o.Interval)))
			if err != nil {
				return err
			}
			children = append(children, c)
		case 1:
			c, err := startAgent(o, id, agentConfig(id, dir, nats.URL(), httpAddr, trusted, mqttSource(id, mqAddr)))
			if err != nil {
				return err
			}
			children = append(children, c)
		default:
			src := modbusChillerSource(simAddr, o.Interval)
			if !gpioTaken {
				gpioTaken = true
				src += gpioSource
				a, err := startInprocAgent(o, id, agentConfig(id, dir, nats.URL(), httpAddr, trusted, src))
				if err != nil {
					return err
				}
				inproc = append(inproc, a)
				break
			}
			c, err := startAgent(o, id, agentConfig(id, dir, nats.URL(), httpAddr, trusted, src))
			if err != nil {
				return err
			}
			children = append(children, c)
		}
		addrs.AgentHTTP = append(addrs.AgentHTTP, httpAddr)
	}

	cloudBin := filepath.Join(o.Bin, "fieldline-cloud")
	fmt.Fprintf(o.Out, "  NATS       %s        try: nats sub 'fl.status.>' --server %s\n", addrs.NATS, addrs.NATS)
	fmt.Fprintf(o.Out, "  Kafka      %s              try: %s tail fl.readings --brokers %s -n 10\n", addrs.Kafka, cloudBin, addrs.Kafka)
	fmt.Fprintf(o.Out, "                                        %s tail fl.aggregates --brokers %s --from end --follow\n", cloudBin, addrs.Kafka)
	fmt.Fprintf(o.Out, "  simulator  modbus tcp %s  try: mbpoll -m tcp -p %s -a 1 -r 1 -c 10 -1 127.0.0.1\n", addrs.Sim, portOf(addrs.Sim))
	fmt.Fprintf(o.Out, "  simulator  mqtt %s        try: mosquitto_sub -h 127.0.0.1 -p %s -t 'plant/#' -v\n", addrs.MQTT, portOf(addrs.MQTT))
	for i, h := range addrs.AgentHTTP {
		fmt.Fprintf(o.Out, "  agent      demo-%03d http://%s/status  /metrics\n", i+1, h)
	}
	fmt.Fprintf(o.Out, "  fleet      %s (bundle demo-1 pushed)  try: %s fleet rules push rules/sample.yaml --fleet %s --nats %s --key %s\n", demoFleet, cloudBin, demoFleet, addrs.NATS, fleetKey)
	fmt.Fprintf(o.Out, "                                        %s fleet agents --nats %s\n", cloudBin, addrs.NATS)
	fmt.Fprintf(o.Out, "  dashboard  %sapi/agents  %sapi/alerts  %smetrics\n", addrs.Dashboard, addrs.Dashboard, addrs.Dashboard)
	fmt.Fprintf(o.Out, "  anomaly    boiler.temp of demo-001 spikes by 30 °C for %s, first at %s, then every %s\n",
		o.AnomalyFor, start.Add(o.AnomalyAfter).Format("15:04:05"), o.AnomalyEvery)
	fmt.Fprintf(o.Out, "  files      %s\n", o.Dir)
	fmt.Fprintf(o.Out, "  INSECURE   the demo's NATS has no accounts and its bridge runs with insecure: true: any client may\n")
	fmt.Fprintf(o.Out, "             send batches as any agent. In production give each agent its own identity: docs/security.md\n")
	if o.Ready != nil {
		o.Ready(addrs)
	}

	progress(ctx, o, addrs, cl.bridgeMetrics, children)
	fmt.Fprintf(o.Out, "\nstopping: agents (they commit and close their buffers), simulators, dashboard, processor, bridge, Kafka, NATS\n")
	return nil
}

func startSim(o Options, start time.Time) (*child, string, error) {
	cfg := filepath.Join(o.Dir, "modbus-sim.yaml")
	if err := os.WriteFile(cfg, []byte(modbusConfig(start, o)), 0o640); err != nil {
		return nil, "", err
	}
	return startChild(o, "fieldline-sim modbus", "sim.log", "modbus tcp listening on ",
		filepath.Join(o.Bin, "fieldline-sim"), "modbus", "--listen", "127.0.0.1:0", "--config", cfg)
}

// startMQTTSim runs the MQTT simulator with its embedded broker.
func startMQTTSim(o Options) (*child, string, error) {
	return startChild(o, "fieldline-sim mqtt", "mqtt-sim.log", "mqtt broker listening on ",
		filepath.Join(o.Bin, "fieldline-sim"), "mqtt", "--listen", "127.0.0.1:0")
}

// startChild runs a simulator and waits for the line that tells its
// address.
func startChild(o Options, name, logName, prefix string, argv ...string) (*child, string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	logf, err := os.Create(filepath.Join(o.Dir, logName))
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	c := &child{name: name, cmd: cmd, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	lines := bufio.NewScanner(out)
	addr := ""
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), prefix); ok {
			addr = strings.TrimSpace(a)
			break
		}
	}
	go func() { _, _ = io.Copy(logf, out) }()
	go func() { c.done <- cmd.Wait(); logf.Close() }()
	if addr == "" {
		return c, "", fmt.Errorf("%s exited before listening (see %s)", name, logName)
	}
	return c, addr, nil
}

func startAgent(o Options, id, cfg string) (*child, error) {
	dir := filepath.Join(o.Dir, id)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o640); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(o.Bin, "fieldline-agent"), "run", "--config", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting agent %s: %w", id, err)
	}
	c := &child{name: "fieldline-agent " + id, cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait(); logf.Close() }()
	return c, nil
}

// stopChildren sends SIGTERM to every child, agents first, and waits; a
// child still running after 15 s is killed.
func stopChildren(children []*child, log *slog.Logger) {
	for i := len(children) - 1; i >= 0; i-- {
		c := children[i]
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-c.done:
			if err != nil {
				log.Warn("child exited with an error", "child", c.name, "err", err)
			}
		case <-time.After(15 * time.Second):
			log.Warn("child did not stop within 15s; killing it", "child", c.name)
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
