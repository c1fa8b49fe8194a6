package demo

import (
	"bufio"
	"context"
	"errors"
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

	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// Options configure a demo run.
type Options struct {
	// Bin is the folder holding fieldline-agent and fieldline-sim.
	Bin string
	// Agents is how many agents to run (each polls its own simulator
	// connection). Default 1.
	Agents int
	// Interval between polls of the demo's register group. Default 100ms.
	Interval time.Duration
	// NATSPort and KafkaPort; 0 picks free ports.
	NATSPort, KafkaPort int
	// Dir holds configs, buffers and logs; empty means a temporary folder
	// removed at the end.
	Dir string
	// Duration stops the demo after this long; 0 runs until ctx ends.
	Duration time.Duration
	// Out receives the addresses and the progress line; Log the details.
	Out io.Writer
	Log *slog.Logger
	// Ready, when set, is called with the addresses once everything runs.
	Ready func(Addrs)
}

// Addrs are where the demo's parts listen.
type Addrs struct {
	NATS, Kafka, Sim string
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
// everything: agents first (they flush), then the simulator, the bridge,
// Kafka and NATS.
func Run(ctx context.Context, o Options) error {
	if o.Agents <= 0 {
		o.Agents = 1
	}
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
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

	// JetStream on, for the rule bucket of `fieldline-cloud fleet`.
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

	bm := bridge.NewMetrics(nil)
	br, err := bridge.New(bridge.Config{
		NATS:  uplink.NATSConfig{URL: nats.URL()},
		Kafka: bridge.KafkaConfig{Brokers: kafka.ListenAddrs()},
	}, bridge.Options{Logger: o.Log.With("component", "bridge"), Metrics: bm})
	if err != nil {
		return err
	}
	bctx, stopBridge := context.WithCancel(context.Background())
	bdone := make(chan error, 1)
	go func() { bdone <- br.Run(bctx) }()
	defer func() { stopBridge(); <-bdone }()
	select {
	case <-br.Ready():
	case err := <-bdone:
		return fmt.Errorf("bridge: %w", err)
	}

	var children []*child
	defer func() { stopChildren(children, o.Log) }()
	sim, simAddr, err := startSim(o)
	if err != nil {
		return err
	}
	children = append(children, sim)
	addrs.Sim = simAddr

	for i := 1; i <= o.Agents; i++ {
		id := fmt.Sprintf("demo-%03d", i)
		port, err := freePort()
		if err != nil {
			return err
		}
		httpAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		c, err := startAgent(o, id, nats.URL(), simAddr, httpAddr, trusted)
		if err != nil {
			return err
		}
		children = append(children, c)
		addrs.AgentHTTP = append(addrs.AgentHTTP, httpAddr)
	}

	fmt.Fprintf(o.Out, "Fieldline demo running (Ctrl-C stops it)\n")
	fmt.Fprintf(o.Out, "  NATS       %s        try: nats sub 'fl.status.>' --server %s\n", addrs.NATS, addrs.NATS)
	fmt.Fprintf(o.Out, "  Kafka      %s              try: %s tail fl.readings --brokers %s -n 10\n", addrs.Kafka, filepath.Join(o.Bin, "fieldline-cloud"), addrs.Kafka)
	fmt.Fprintf(o.Out, "  simulator  modbus tcp %s  try: mbpoll -m tcp -p %s -a 1 -r 1 -c 10 -1 127.0.0.1\n", addrs.Sim, portOf(addrs.Sim))
	for i, h := range addrs.AgentHTTP {
		fmt.Fprintf(o.Out, "  agent      demo-%03d http://%s/status  /metrics\n", i+1, h)
	}
	fmt.Fprintf(o.Out, "  fleet      %s   try: fieldline-cloud fleet rules push rules/sample.yaml --fleet %s --nats %s --key %s\n", demoFleet, demoFleet, addrs.NATS, fleetKey)
	fmt.Fprintf(o.Out, "                          then: fieldline-cloud fleet agents --nats %s\n", addrs.NATS)
	fmt.Fprintf(o.Out, "  files      %s\n", o.Dir)
	if o.Ready != nil {
		o.Ready(addrs)
	}

	progress(ctx, o, addrs, bm, children)
	fmt.Fprintf(o.Out, "\nstopping: agents (they commit and close their buffers), simulator, bridge, Kafka, NATS\n")
	return nil
}

func startSim(o Options) (*child, string, error) {
	cmd := exec.Command(filepath.Join(o.Bin, "fieldline-sim"), "modbus", "--listen", "127.0.0.1:0")
	logf, err := os.Create(filepath.Join(o.Dir, "sim.log"))
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	c := &child{name: "fieldline-sim", cmd: cmd, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting simulator: %w", err)
	}
	lines := bufio.NewScanner(out)
	addr := ""
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "modbus tcp listening on "); ok {
			addr = strings.TrimSpace(a)
			break
		}
	}
	go func() { _, _ = io.Copy(logf, out) }()
	go func() { c.done <- cmd.Wait(); logf.Close() }()
	if addr == "" {
		return c, "", errors.New("simulator exited before listening (see sim.log)")
	}
	return c, addr, nil
}

func startAgent(o Options, id, natsURL, simAddr, httpAddr, trusted string) (*child, error) {
	dir := filepath.Join(o.Dir, id)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	// clock_sync: floor: the demo's agents trust this machine's clock as it
	// is. A machine without a time daemon (a container, a laptop offline)
	// has a kernel that calls its clock unsynchronised, and the agents
	// would flag every reading (the processor keeps flagged readings out of
	// the windows).
	cfg := fmt.Sprintf(`# written by fieldline-cloud demo
agent: {id: %s, data_dir: %s, clock_sync: floor, fleet: %s}
uplink: {nats: {url: "%s"}, status_interval: 1s}
rules: {trusted_keys: ["%s"]}
http: {listen: "%s"}
sources:
  modbus:
    - name: boiler
      url: tcp://%s
      units:
        - id: 1
          groups:
            - name: fast
              interval: %s
              registers:
                - {sensor: boiler.temp, table: holding, address: 0, type: int16, scale: 0.1, unit: °C}
                - {sensor: boiler.pressure, table: holding, address: 1, type: uint16, scale: 0.01, unit: bar}
                - {sensor: boiler.energy, table: holding, address: 2, type: uint32, unit: Wh, counter: true}
                - {sensor: boiler.flow, table: holding, address: 4, type: float32, unit: m³/h}
                - {sensor: boiler.pump, table: coil, address: 0}
        - id: 2
          groups:
            - name: meter
              interval: %s
              registers:
                - {sensor: meter.voltage, table: input, address: 0, type: float32, byte_order: little, word_order: little, unit: V}
                - {sensor: meter.current, table: input, address: 2, type: float32, byte_order: little, unit: A}
                - {sensor: meter.power, table: input, address: 4, type: int32, unit: W}
                - {sensor: meter.frequency, table: input, address: 10, type: float64, unit: Hz}
`, id, dir, demoFleet, natsURL, trusted, httpAddr, simAddr, o.Interval, o.Interval)
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
