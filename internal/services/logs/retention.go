package logs

import "context"

// retentionLoop runs the engine's maintenance (retention: expired events
// deleted from disk; small blocks merged) every interval of the injected
// clock, until ctx ends. Reads hide expired events in between.
func (s *Service) retentionLoop(ctx context.Context) {
	t := s.clock.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if err := s.events.Maintain(); err != nil {
				s.log.Warn("logs: maintenance failed", "err", err)
			}
		}
	}
}
