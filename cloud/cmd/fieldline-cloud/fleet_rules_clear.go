package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/fleet"
)

func newFleetClearCmd(o *fleetOptions) *cobra.Command {
	var agent string
	cmd := &cobra.Command{
		Use:   "clear --agent A",
		Short: "remove an agent's own bundle: it goes back to its fleet's",
		Long: `Pushes a signed clear to agent.<A>. Deleting the key in the bucket would not do:
a delete carries no signature, and agents ignore it.`,
		Example: "  fieldline-cloud fleet rules clear --agent gw-0042 --key fleet.key",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if agent == "" {
				return usageError{errors.New("give --agent A")}
			}
			key, err := target("", agent)
			if err != nil {
				return err
			}
			return o.withStore(cmd.Context(), func(c *fleet.Config, s *fleet.Store) error {
				sig, err := signer(c)
				if err != nil {
					return err
				}
				p, err := s.Push(cmd.Context(), sig, fleet.Push{Key: key, Clear: true, Signer: pusher()})
				if err != nil {
					return err
				}
				describe(cmd.OutOrStdout(), "pushed", p.Statement, p.KVRevision)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&agent, "agent", "", "the agent whose own bundle to remove")
	return cmd
}
