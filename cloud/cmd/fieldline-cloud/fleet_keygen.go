package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/rules/signed"
)

func newFleetKeygenCmd() *cobra.Command {
	var out, name string
	cmd := &cobra.Command{
		Use:   "keygen [--out DIR] [--name NAME]",
		Short: "make an ed25519 key pair to sign rule bundles with",
		Long: `Makes an ed25519 key pair: NAME.key (PEM PKCS #8, mode 0600: whoever reads it
can sign rules for the fleet; commands that sign refuse it when group or others
may read it) and NAME.pub (PEM). Existing files are never overwritten. It prints
the key id and the public key in the inline form an agent's config takes:
rules.trusted_keys: ["ed25519:..."].`,
		Example: "  fieldline-cloud fleet keygen --out /etc/fieldline --name fleet-2026",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKeygen(cmd.OutOrStdout(), out, name)
		},
	}
	cmd.Flags().StringVar(&out, "out", ".", "folder to write the key files into")
	cmd.Flags().StringVar(&name, "name", "fleet", "base name of the files (NAME.key, NAME.pub)")
	return cmd
}

func runKeygen(w io.Writer, dir, name string) error {
	pub, priv, err := signed.GenerateKey()
	if err != nil {
		return fmt.Errorf("making a key: %w", err)
	}
	keyFile, pubFile := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	if err := signed.WritePrivateKey(keyFile, priv); err != nil {
		return err
	}
	if err := signed.WritePublicKey(pubFile, pub); err != nil {
		return err
	}
	fmt.Fprintf(w, "private key: %s (mode 0600; keep it off the gateways)\npublic key:  %s\nkey id:      %s\nfor the agents' config: rules: {trusted_keys: [\"%s\"]}\n",
		keyFile, pubFile, signed.KeyID(pub), signed.FormatPublicKey(pub))
	return nil
}
