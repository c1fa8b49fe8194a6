package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// serveLive is the live stream: a WebSocket on which the browser gets a
// snapshot (or, reconnecting with ?last=ID, the frames it missed), then
// every frame as it is built. It only writes; what the browser sends is
// read and dropped (coder/websocket's CloseRead), which also notices when
// it goes away.
func (d *Dashboard) serveLive(w http.ResponseWriter, r *http.Request) {
	d.conns.Add(1)
	defer d.conns.Done()
	last, _ := strconv.ParseInt(r.URL.Query().Get("last"), 10, 64)
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return // Accept wrote the error
	}
	defer conn.CloseNow()
	ctx, cancel := context.WithCancel(conn.CloseRead(r.Context()))
	defer cancel()
	c := &client{ch: make(chan *frame, d.cfg.Push.ClientQueue), cut: cancel}
	replay, snap := d.store.subscribe(c, last)
	defer d.hub.leave(c)
	write := func(data []byte) bool {
		wctx, wcancel := context.WithTimeout(ctx, d.cfg.Push.WriteTimeout)
		defer wcancel()
		if err := conn.Write(wctx, websocket.MessageText, data); err != nil {
			if ctx.Err() == nil {
				d.hub.cutOff(c)
			}
			return false
		}
		d.m.FramesSent.Inc()
		return true
	}
	if snap != nil {
		d.m.Connects.WithLabelValues("snapshot").Inc()
		data, err := json.Marshal(snap)
		if err != nil || !write(data) {
			return
		}
	} else {
		d.m.Connects.WithLabelValues("resume").Inc()
		hello, _ := json.Marshal(struct {
			Type string `json:"type"`
			ID   int64  `json:"id"`
		}{"resume", last})
		if !write(hello) {
			return
		}
	}
	for _, f := range replay {
		if !write(f.data) {
			return
		}
	}
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			if c.slow.Load() {
				conn.Close(websocket.StatusPolicyViolation, "too slow: reconnect to resume")
			}
			return
		case f := <-c.ch:
			if !write(f.data) {
				return
			}
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(ctx, d.cfg.Push.WriteTimeout)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				return
			}
		}
	}
}
