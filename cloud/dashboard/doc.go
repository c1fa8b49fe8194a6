// Package dashboard is the live fleet page of `fieldline-cloud dashboard`
// (and of `all` and the demo): every agent from its heartbeats, a chart
// per sensor from its raw readings and window aggregates, the alerts, all
// pushed to the browser as they happen; and the JSON API behind the page.
//
// It owns its view of the fleet, held in memory: the last heartbeat of
// each agent, a bounded series per sensor (raw points, aggregates per
// window length, revisions upserted), the alerts and silences. It must not
// know how the processor computes aggregates or how alerting decides
// (it reads their topics through protocols/wire), and it writes nothing
// anywhere: a dashboard can be restarted, or several run side by side,
// with no effect on the system.
//
// # Basics
//
// One read_committed Kafka consumer (no group: every dashboard reads every
// partition) on fl.readings, fl.aggregates and fl.alerts, started History
// ago so that the charts are not empty, and one NATS subscription on
// fl.status.*, however many browsers connect. Each change goes into the
// store and, under the store's lock, to the hub, which gathers changes
// into frames: the first change of a frame wakes it, and a frame is built
// at most every Push.MinInterval, encoded once, kept in a replay ring and
// queued for every browser.
//
// A browser opens a WebSocket on /api/live (coder/websocket). It gets a
// snapshot (everything, with the id of the last frame it covers) and then
// every frame; each frame has an id one above the last. When it
// reconnects it sends the id of the last frame it saw (?last=N) and gets
// exactly the frames after it from the replay ring, or a new snapshot when
// they are gone or the id is another process's. A browser whose queue of
// Push.ClientQueue frames is full is cut off at once, so that it never
// slows the others; it reconnects and resumes.
//
// The page (web/app, plain JavaScript, committed) runs on what the stream
// carries. A binary built with Go alone draws SVG sparklines by hand and
// says how to get the full charts; `make dashboard-assets` bundles the
// same code with uPlot (pinned in web/package-lock.json, bundled by
// esbuild into web/dist, which is not committed) and the binary embeds it.
// Nothing the page loads comes from elsewhere (its Content-Security-Policy
// says so).
//
// # Caveats
//
// Everything is in memory: a dashboard that restarts reads History back
// and forgets older points. The snapshot carries every sensor, fine for a
// fleet of hundreds of sensors, heavy for tens of thousands (the page
// would need to ask for the sensors it shows). Raw readings are charted as
// they come: a fleet whose raw rate is too high for browsers sets
// readings: false and charts aggregates only.
package dashboard
