// Package modbussim simulates Modbus devices for Fieldline's demos and tests:
// units whose coils, discrete inputs, input and holding registers follow the
// deterministic signals of firmware-sim/signal (a temperature drifting with
// noise, a pressure loop, an energy counter, ...), served over Modbus TCP,
// over RTU on a serial line or pseudo-terminal, and over RTU-over-TCP.
//
// # Basics
//
// A Config lists units; each unit maps named registers onto signals with a
// table, an address, a type (bool, int16, uint16, int32, uint32, int64,
// uint64, float32, float64), a byte and a word order, and a scale and
// offset: the register holds (value-offset)/scale. SampleConfig (the
// embedded sample.yaml) is the built-in default.
//
//	sim, err := modbussim.New(modbussim.DefaultConfig(), modbussim.Options{})
//	addr, err := sim.ListenTCP(ctx, "127.0.0.1:0")     // simonvetter/modbus server
//	go sim.ServeRTU(ctx, "/dev/pts/7", modbussim.SerialConfig{Baud: 19200}) // or OpenRTU, then Serve
//	addr, err = sim.ListenRTUOverTCP(ctx, "127.0.0.1:0") // a serial device server
//	defer sim.Close()
//
// All transports read one register model. Because signals are pure
// functions of time, a test that freezes Options.Now knows every value:
// Expected gives the decoded value of a named register at a time and
// Registers the raw words a read answers. SetRegisters and SetBits set
// values directly (a client's writes do the same), and SetFault makes a unit
// dead, slow, or answer with an exception code. Signal anomalies apply too:
// spikes and stuck values show in the registers, and a dropout makes the
// unit silent for requests that touch the register.
//
// # Caveats
//
// Modbus TCP goes through the simonvetter/modbus server, which answers every
// request in order on a connection: a dead unit (or a dropout) therefore
// holds its connection silent until the fault clears, as a hung device
// does, and other units on that same connection wait too. A unit id the
// simulator does not know is answered with exception 11 (gateway target
// failed to respond). Over RTU and RTU-over-TCP, which use this package's
// own framing, a dead or unknown unit simply stays silent and the bus
// serves the next request. The library's server only encodes the standard
// exception codes; others are sent as 4 (server device failure) over TCP.
//
// The package knows nothing of the agent: its encoder is written apart from
// protocols/modbus's decoder on purpose, so that tests of one check the
// other. It never prints to stdout.
package modbussim
