package elbv2

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/elbv2/dataplane"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// targetKey identifies a target in its group, as the data plane names it.
func targetKey(id string, port int32) string { return id + ":" + strconv.Itoa(int(port)) }

// targetAddr is where a target is reached: ip targets at their IP;
// instance targets on this machine (kumo's one "instance"), where bridge-mode
// tasks publish their host ports.
func targetAddr(id string, port int32) netip.AddrPort {
	ip, err := netip.ParseAddr(id)
	if err != nil {
		ip = netip.MustParseAddr("127.0.0.1")
	}
	return netip.AddrPortFrom(ip, uint16(port))
}

// resolveTargets validates targets for a group and fills in the default port.
func resolveTargets(tg elbv2wire.TargetGroup, in []elbv2wire.TargetDescription) ([]targetRecord, error) {
	var out []targetRecord
	for _, t := range in {
		port := *tg.Port
		if t.Port != nil {
			port = *t.Port
		}
		if port < 1 || port > 65535 {
			return nil, validationError("Port '%d' is not valid; it must be between 1 and 65535", port)
		}
		if tg.TargetType == "ip" {
			ip, err := netip.ParseAddr(t.Id)
			if err != nil || !ip.Is4() {
				return nil, protocol.ClientError("InvalidTarget", "The IP address '%s' is not a valid IPv4 address", t.Id)
			}
		} else if _, err := netip.ParseAddr(t.Id); err != nil && !strings.HasPrefix(t.Id, "i-") {
			return nil, protocol.ClientError("InvalidTarget", "The following targets are not valid instances: '%s'", t.Id)
		}
		out = append(out, targetRecord{ID: t.Id, Port: port, AvailabilityZone: t.AvailabilityZone})
	}
	return out, nil
}

// RegisterTargets adds targets to a group; a draining target registered
// again is back in service.
func (s *Service) RegisterTargets(ctx context.Context, in *elbv2wire.RegisterTargetsInput) (*elbv2wire.RegisterTargetsOutput, error) {
	sc := scopeOf(ctx)
	err := s.store.Update(func(tx *store.Tx) error {
		r, err := getTG(tx, sc, in.TargetGroupArn)
		if err != nil {
			return err
		}
		targets, err := resolveTargets(r.TargetGroup, in.Targets)
		if err != nil {
			return err
		}
		for _, t := range targets {
			r.Targets = upsertTarget(r.Targets, t)
		}
		if len(r.Targets) > 1000 {
			return protocol.ClientError("TooManyTargets", "You've reached the limit on the number of targets per target group")
		}
		return tx.Put(tableTargetGroups, in.TargetGroupArn, r)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.RegisterTargetsOutput{}, nil
}

func upsertTarget(ts []targetRecord, t targetRecord) []targetRecord {
	for i, old := range ts {
		if old.ID == t.ID && old.Port == t.Port {
			ts[i] = t
			return ts
		}
	}
	return append(ts, t)
}

// DeregisterTargets starts draining targets: they get no new requests and
// leave the group after the deregistration delay, or as soon as their
// in-flight requests are done.
func (s *Service) DeregisterTargets(ctx context.Context, in *elbv2wire.DeregisterTargetsInput) (*elbv2wire.DeregisterTargetsOutput, error) {
	sc := scopeOf(ctx)
	err := s.store.Update(func(tx *store.Tx) error {
		r, err := getTG(tx, sc, in.TargetGroupArn)
		if err != nil {
			return err
		}
		targets, err := resolveTargets(r.TargetGroup, in.Targets)
		if err != nil {
			return err
		}
		delay, _ := strconv.Atoi(r.Attributes["deregistration_delay.timeout_seconds"])
		until := s.clock.Now().Add(time.Duration(delay) * time.Second)
		for _, t := range targets {
			i := indexOfTarget(r.Targets, t)
			if i < 0 {
				return protocol.ClientError("InvalidTarget", "The following targets are not registered in target group '%s': '%s'", in.TargetGroupArn, t.ID)
			}
			if !r.Targets[i].draining() {
				r.Targets[i].DrainUntil = until
			}
		}
		return tx.Put(tableTargetGroups, in.TargetGroupArn, r)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.DeregisterTargetsOutput{}, nil
}

func indexOfTarget(ts []targetRecord, t targetRecord) int {
	for i, old := range ts {
		if old.ID == t.ID && old.Port == t.Port {
			return i
		}
	}
	return -1
}

// DescribeTargetHealth reports the health of a group's targets (or of the
// ones asked about; unregistered ones are "unused").
func (s *Service) DescribeTargetHealth(ctx context.Context, in *elbv2wire.DescribeTargetHealthInput) (*elbv2wire.DescribeTargetHealthOutput, error) {
	sc := scopeOf(ctx)
	var r tgRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		r, err = getTG(tx, sc, in.TargetGroupArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	asked := r.Targets
	if len(in.Targets) > 0 {
		if asked, err = resolveTargets(r.TargetGroup, in.Targets); err != nil {
			return nil, err
		}
	}
	health := s.plane.TargetHealth(in.TargetGroupArn)
	var out []elbv2wire.TargetHealthDescription
	for _, t := range asked {
		h := targetHealth(r, t, health)
		port := t.Port
		out = append(out, elbv2wire.TargetHealthDescription{
			Target:          &elbv2wire.TargetDescription{Id: t.ID, Port: &port, AvailabilityZone: t.AvailabilityZone},
			HealthCheckPort: healthCheckPort(r.TargetGroup, t),
			TargetHealth:    &elbv2wire.TargetHealth{State: h.State, Reason: h.Reason, Description: h.Description},
		})
	}
	return &elbv2wire.DescribeTargetHealthOutput{TargetHealthDescriptions: out}, nil
}

// targetHealth is a target's state: draining as soon as it is deregistered,
// else the data plane's once it serves the target, "initial" while the
// registration is on its way there.
func targetHealth(r tgRecord, t targetRecord, health map[string]dataplane.Health) dataplane.Health {
	if indexOfTarget(r.Targets, t) < 0 {
		return dataplane.Health{State: dataplane.StateUnused, Reason: "Target.NotRegistered",
			Description: "Target is not registered to the target group"}
	}
	if registered := r.Targets[indexOfTarget(r.Targets, t)]; registered.draining() {
		return dataplane.Health{State: dataplane.StateDraining, Reason: dataplane.ReasonDeregistrationInProgres,
			Description: "Target deregistration is in progress"}
	}
	if h, ok := health[targetKey(t.ID, t.Port)]; ok {
		return h
	}
	return dataplane.Health{State: dataplane.StateInitial, Reason: "Elb.RegistrationInProgress",
		Description: "Target registration is in progress"}
}

func healthCheckPort(tg elbv2wire.TargetGroup, t targetRecord) string {
	if tg.HealthCheckPort == "traffic-port" || tg.HealthCheckPort == "" {
		return strconv.Itoa(int(t.Port))
	}
	return tg.HealthCheckPort
}
