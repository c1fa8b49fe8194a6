// Package tlsconf is the TLS of every client Fieldline dials (the NATS
// uplink of the agent and the bridge, the MQTT sources and publisher): one
// config type with one YAML spelling, one loader and one set of problems.
//
// # Basics
//
// Every `tls:` section of every config file has the same keys:
//
//	tls:
//	  ca_file: /etc/fieldline/ca.pem       # PEM CAs to trust; default the system's
//	  cert_file: /etc/fieldline/agent.pem  # client certificate, with key_file
//	  key_file: /etc/fieldline/agent.key
//	  server_name: nats.example.com        # the name checked in the server's certificate
//	  insecure_skip_verify: false          # tests only; logged loudly
//
// A config type embeds Config under `tls` and calls Check(p.In("tls")) from
// its own Check, so that `check-config` names each problem with its path
// (`uplink.nats.tls.ca_file: /etc/ca.pem holds no PEM certificate`). Check
// loads the files, as Client does, so a file that would fail at connect
// time fails the check. Client builds the *tls.Config (TLS 1.2 at least).
//
// # Caveats
//
// The NATS uplink once spelled the files ca, cert and key. Those keys are
// not aliases: Check rejects each with the key that replaced it, so a file
// written for either spelling is read one way only. The package knows no
// Fieldline type and no protocol; it reads files only in Check and Client.
package tlsconf
