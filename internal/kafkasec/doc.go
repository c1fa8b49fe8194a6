// Package kafkasec is the one TLS and SASL configuration of every Kafka
// client of Fieldline (bridge, processor, dashboard, notifier): the keys
// tls and sasl of each kafka section, turned into franz-go options.
//
// # Basics
//
//	kafka:
//	  brokers: [kafka-1:9093]
//	  tls: {ca_file: /etc/fieldline/kafka-ca.pem}
//	  sasl: {mechanism: SCRAM-SHA-512, user: fieldline-bridge, password_file: /etc/fieldline/kafka.pw}
//
// Config.Opts gives kgo.DialTLSConfig and kgo.SASL (franz-go's
// pkg/sasl/scram and pkg/sasl/plain). SASL without TLS sends the
// password's proof (SCRAM) or the password itself (PLAIN) in the clear:
// PLAIN without TLS is refused.
//
// # Caveats
//
// password is a confkit.Secret: a config file that sets it must be private
// to its owner; password_file must be as well. Neither is ever logged.
package kafkasec
