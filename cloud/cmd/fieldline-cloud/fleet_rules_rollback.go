package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/fleet"
)

func newFleetRollbackCmd(o *fleetOptions) *cobra.Command {
	var fleetName, agent string
	var to uint64
	cmd := &cobra.Command{
		Use:   "rollback --to REV (--fleet F | --agent A)",
		Short: "push the bundle of an earlier revision again, as a new revision",
		Long: `Finds revision REV in the key's history (fleet rules history lists it; the
bucket keeps the last values of each key, 64 by default) and pushes its bundle
again, signed with the next revision: agents refuse an older revision, so going
back is a new push of old content.`,
		Example: "  fieldline-cloud fleet rules rollback --to 12 --fleet boiler --key fleet.key",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := target(fleetName, agent)
			if err != nil {
				return err
			}
			if to == 0 {
				return usageError{fmt.Errorf("give --to REV, the revision to go back to")}
			}
			return o.withStore(cmd.Context(), func(c *fleet.Config, s *fleet.Store) error {
				sig, err := signer(c)
				if err != nil {
					return err
				}
				p, err := s.Rollback(cmd.Context(), sig, key, to, pusher())
				if err != nil {
					return err
				}
				describe(cmd.OutOrStdout(), fmt.Sprintf("rolled back to revision %d: pushed", to), p.Statement, p.KVRevision)
				return nil
			})
		},
	}
	cmd.Flags().Uint64Var(&to, "to", 0, "the revision whose bundle to push again")
	cmd.Flags().StringVar(&fleetName, "fleet", "", "the fleet's key fleet.<F>")
	cmd.Flags().StringVar(&agent, "agent", "", "an agent's key agent.<A>")
	return cmd
}
