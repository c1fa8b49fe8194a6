package mqtt

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the MQTT source's and publisher's Prometheus collectors.
type Metrics struct {
	Messages      *prometheus.CounterVec // fieldline_mqtt_messages_total{source}
	Readings      *prometheus.CounterVec // fieldline_mqtt_readings_total{source}
	PayloadErrors *prometheus.CounterVec // fieldline_mqtt_payload_errors_total{source,reason}
	Unmatched     *prometheus.CounterVec // fieldline_mqtt_unmatched_messages_total{source}
	Connected     *prometheus.GaugeVec   // fieldline_mqtt_connected{source}
	Connections   *prometheus.CounterVec // fieldline_mqtt_connections_total{source}
	ConnectErrors *prometheus.CounterVec // fieldline_mqtt_connect_errors_total{source}
	SubscribeErrs *prometheus.CounterVec // fieldline_mqtt_subscribe_errors_total{source}
	Published     *prometheus.CounterVec // fieldline_mqtt_published_total{source}
	PublishErrors *prometheus.CounterVec // fieldline_mqtt_publish_errors_total{source}
}

// NewMetrics creates the collectors and registers them with reg unless reg
// is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		Messages:      cv("fieldline_mqtt_messages_total", "MQTT messages received.", "source"),
		Readings:      cv("fieldline_mqtt_readings_total", "Readings emitted from MQTT messages.", "source"),
		PayloadErrors: cv("fieldline_mqtt_payload_errors_total", "MQTT messages whose payload could not be read, by reason.", "source", "reason"),
		Unmatched:     cv("fieldline_mqtt_unmatched_messages_total", "MQTT messages that matched no subscription.", "source"),
		Connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
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
