package main

import "github.com/spf13/cobra"

func newFleetRulesCmd(o *fleetOptions) *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "rules",
		Short: "push, watch, roll back and promote rule bundles",
		Long: `Rule bundles in the bucket: push signs and stores one (for a fleet, one agent,
or a canary of a fleet), status shows what each fleet should run and runs,
history lists a key's past revisions, rollback pushes an old one again, promote
and abort end a canary, clear removes an agent's own bundle.`,
		Example: `  fieldline-cloud fleet rules push boiler.yaml --fleet boiler --canary 10%
  fieldline-cloud fleet rules status --fleet boiler
  fieldline-cloud fleet rules promote --fleet boiler`,
	})
	cmd.AddCommand(newFleetPushCmd(o), newFleetStatusCmd(o), newFleetHistoryCmd(o), newFleetRollbackCmd(o),
		newFleetPromoteCmd(o), newFleetAbortCmd(o), newFleetClearCmd(o))
	return cmd
}
