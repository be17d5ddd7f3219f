package dev

import (
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/natsserver"
	"github.com/ounce-data/ounce/services/gateway/registry"
)

// partnerUsers keeps the embedded server's partner users equal to the
// registry's active partners that hold a NATS key: registering one admits
// it, revoking or re-keying it disconnects the old key.
func partnerUsers(s *natsserver.Server, log zerolog.Logger) *registry.Cache {
	c := registry.NewCache()
	c.OnChange = func() {
		var users []natsserver.Partner
		for _, p := range c.Partners() {
			if p.Active() && p.NATSKey != "" {
				users = append(users, natsserver.Partner{ID: p.ID, NKey: p.NATSKey})
			}
		}
		if err := s.SetPartners(users); err != nil {
			log.Error().Err(err).Msg("nats partner users not updated; the previous ones stay")
			return
		}
		log.Debug().Int("partners", len(users)).Msg("nats partner users updated")
	}
	return c
}
