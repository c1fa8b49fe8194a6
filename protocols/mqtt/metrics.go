package mqtt

import "github.com/fieldline/fieldline/internal/metrics"

// Metrics are the MQTT source's and publisher's Prometheus collectors.
type Metrics struct {
	Messages      *metrics.CounterVec // fieldline_mqtt_messages_total{source}
	Readings      *metrics.CounterVec // fieldline_mqtt_readings_total{source}
	PayloadErrors *metrics.CounterVec // fieldline_mqtt_payload_errors_total{source,reason}
	Unmatched     *metrics.CounterVec // fieldline_mqtt_unmatched_messages_total{source}
	Connected     *metrics.GaugeVec   // fieldline_mqtt_connected{source}
	Connections   *metrics.CounterVec // fieldline_mqtt_connections_total{source}
	ConnectErrors *metrics.CounterVec // fieldline_mqtt_connect_errors_total{source}
	SubscribeErrs *metrics.CounterVec // fieldline_mqtt_subscribe_errors_total{source}
	Published     *metrics.CounterVec // fieldline_mqtt_published_total{source}
	PublishErrors *metrics.CounterVec // fieldline_mqtt_publish_errors_total{source}
}

// NewMetrics creates the collectors and registers them with reg unless reg
// is nil.
func NewMetrics(reg *metrics.Registry) *Metrics {
	cv := func(name, help string, labels ...string) *metrics.CounterVec {
		return metrics.NewCounterVec(metrics.Opts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		Messages:      cv("fieldline_mqtt_messages_total", "MQTT messages received.", "source"),
		Readings:      cv("fieldline_mqtt_readings_total", "Readings emitted from MQTT messages.", "source"),
		PayloadErrors: cv("fieldline_mqtt_payload_errors_total", "MQTT messages whose payload could not be read, by reason.", "source", "reason"),
		Unmatched:     cv("fieldline_mqtt_unmatched_messages_total", "MQTT messages that matched no subscription.", "source"),
		Connected: metrics.NewGaugeVec(metrics.Opts{
			Name: "fieldline_mqtt_connected", Help: "1 while connected to the MQTT broker with subscriptions made.",
		}, []string{"source"}),
		Connections:   cv("fieldline_mqtt_connections_total", "Connections made to the MQTT broker, reconnections included.", "source"),
		ConnectErrors: cv("fieldline_mqtt_connect_errors_total", "Failed connection attempts to the MQTT broker.", "source"),
		SubscribeErrs: cv("fieldline_mqtt_subscribe_errors_total", "Topic filters the broker refused or a subscribe that failed.", "source"),
		Published:     cv("fieldline_mqtt_published_total", "Messages published by rule actions.", "source"),
		PublishErrors: cv("fieldline_mqtt_publish_errors_total", "Publishes by rule actions that failed.", "source"),
	}
	if reg != nil {
		reg.MustRegister(m.Messages, m.Readings, m.PayloadErrors, m.Unmatched, m.Connected, m.Connections,
			m.ConnectErrors, m.SubscribeErrs, m.Published, m.PublishErrors)
	}
	return m
}
