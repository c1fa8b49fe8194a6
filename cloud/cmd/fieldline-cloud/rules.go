package main

import (
	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/internal/cli"
)

func newCheckRulesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-rules FILE",
		Short: "validate a rule bundle as the agents will (every problem listed)",
		Long: `Validates a rule bundle with the same code the agents run, listing every
problem with its line and its path in the bundle. Exits 1 when there is any.`,
		Example: "  fieldline-cloud check-rules rules/sample.yaml",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.CheckRules(cmd.OutOrStdout(), args[0])
		},
	}
}
