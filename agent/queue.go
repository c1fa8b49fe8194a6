package agent

import (
	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
)

// bufferQueue adapts *buffer.Buffer to Queue.
type bufferQueue struct{ *buffer.Buffer }

func (q bufferQueue) Depths() (d [fieldline.NumLanes]uint64) {
	st := q.Stats()
	for l := range st.Lanes {
		d[l] = uint64(st.Lanes[l].DepthReadings)
	}
	return d
}
