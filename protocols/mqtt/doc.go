// Package mqtt is the agent's MQTT sensor source: it subscribes to a local
// broker with MQTT v5 (eclipse/paho.golang's autopaho) and turns messages
// into readings; and a Publisher for rule actions that publish to that
// broker.
//
// # Basics
//
// New takes a Config (see SampleConfig). Each subscription is a topic filter
// with QoS 0 or 1, a sensor id template and a payload format:
//
//   - the template maps wildcards into the sensor id: with the filter
//     plant/+/temp, "plant.<+>.temp" (or "plant.{1}.temp") turns the topic
//     plant/boiler/temp into sensor plant.boiler.temp; "<#>" is what "#"
//     matched with "/" as ".";
//   - format number: the payload is one value ("21.5", " 21.5\n", "true",
//     "off", "nan");
//   - format json: one or more values, each at a path ("env.temp",
//     "readings[0].v") with its own sensor id, kind, scale and offset; the
//     readings' time may come from a path in the message too.
//
// The Source is a protocols/source component (Register adds it to a
// source.Registry as "mqtt"), driven by source.Run. Connect makes one
// round of attempts through autopaho, one per broker in turn, with no
// reconnection of its own: when the connection drops, Read returns
// source.ErrNotConnected and the runtime connects again with the config's
// reconnect backoff, subscribing to every filter on each connection, so a
// broker that restarted and lost its sessions delivers again. The session
// is resumed on reconnection (clean start only the first time), as the
// broker keeps it when session_expiry is set. Messages are acknowledged
// (QoS 1) after their readings were handed to emit; a message that arrives
// while no Read runs waits for the next one.
//
// The payload parser (Parser.Match and Parser.Parse) is a pure function of
// the topic, the payload and the time, fuzzed by FuzzParsePayload. A
// malformed payload yields a *PayloadError (wrapping ErrPayload) with a
// Reason; the source counts it in fieldline_mqtt_payload_errors_total
// {source,reason}, logs it at most once per topic per minute
// (internal/lograte), and goes on.
// Values that can be read from a partly broken JSON message are still
// emitted.
//
// A value the sensor reports as failed ("nan", "inf", JSON null) becomes a
// reading of quality bad with a NaN value, not an error.
//
// Publisher (for rule actions that publish, e.g. a command to a local
// device) owns a connection of its own, with client id "<client_id>-pub":
// actions work while a source restarts, and a source never waits on an
// action. Publish waits for the connection as long as its ctx allows and,
// at QoS 1, for the broker's acknowledgement. It is not a source: autopaho
// keeps its connection up, waiting the config's reconnect backoff
// (internal/retry) between attempts.
//
// # Caveats
//
// The package must not know about the agent's buffer, rules or uplink, and
// must not link a broker: the embedded broker the tests and demo use lives
// in firmware-sim/mqttsim.
//
// A message is parsed by the first subscription, in config order, whose
// filter matches; overlapping filters may also make the broker deliver one
// message twice (one copy per subscription), so avoid them. Retained
// messages are not requested unless a subscription sets retained: true,
// since a retained value may be old and would be stamped with the time it
// arrived. A wildcard turns every topic that matches into a sensor id:
// publishers on the local broker are trusted to keep that set bounded.
// JSON paths cannot address keys that contain a "." or "[". A SUBSCRIBE
// that gets no answer within connect_timeout fails the Connect (counted in
// fieldline_mqtt_subscribe_errors_total); the runtime connects again.
//
// Handed to emit is not yet committed: a QoS 1 message is acknowledged to
// the broker before the agent's buffer commits its readings, so an agent
// crash or power cut in between (at most the buffer's flush_interval plus
// the pipeline's queue) loses them, as it loses a Modbus poll's, although
// the broker would have delivered an unacknowledged message again.
// Acknowledging after the commit needs the commit to reach back to the
// source; it is not done yet.
package mqtt
