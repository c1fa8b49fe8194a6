package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/rules/signed"
)

func newFleetAbortCmd(o *fleetOptions) *cobra.Command {
	var fleetName, reason string
	cmd := &cobra.Command{
		Use:   "abort --fleet F [--reason TEXT]",
		Short: "withdraw a running canary",
		Long: `Writes the canary's withdrawal (signed when it was pushed; no key needed):
canary agents go back to the fleet's bundle.`,
		Example: "  fieldline-cloud fleet rules abort --fleet boiler --reason 'wrong thresholds'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := signed.CheckName(fleetName); err != nil {
				return usageError{fmt.Errorf("--fleet: %w", err)}
			}
			return o.withStore(cmd.Context(), func(_ *fleet.Config, s *fleet.Store) error {
				r, err := s.Abort(cmd.Context(), fleetName, "aborted by "+pusher()+": "+reason)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "canary %d of %s withdrawn\n", r.Revision, fleetName)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&fleetName, "fleet", "", "the fleet whose canary to withdraw")
	cmd.Flags().StringVar(&reason, "reason", "", "why, kept in the rollout's record")
	return cmd
}
