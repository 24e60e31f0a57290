package elbv2

import (
	"context"
	"fmt"
	"slices"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// maxListenerCertificates is ALB's limit of certificates per listener,
// the default one included.
const maxListenerCertificates = 25

func certificateARNs(certs []elbv2wire.Certificate) []string {
	var out []string
	for _, c := range certs {
		out = append(out, c.CertificateArn)
	}
	return out
}

// AddListenerCertificates adds certificates to an HTTPS listener's list;
// clients get the one matching the name they ask for (SNI).
func (s *Service) AddListenerCertificates(ctx context.Context, in *elbv2wire.AddListenerCertificatesInput) (*elbv2wire.AddListenerCertificatesOutput, error) {
	sc := scopeOf(ctx)
	for _, c := range in.Certificates {
		if !sameScopeARN(ctx, c.CertificateArn) || s.certs == nil {
			return nil, certificateNotFound(c.CertificateArn)
		}
		if _, err := s.certs.KeyPair(ctx, c.CertificateArn); err != nil {
			return nil, certificateNotFound(c.CertificateArn)
		}
	}
	var added []elbv2wire.Certificate
	err := s.store.Update(func(tx *store.Tx) error {
		r, err := getListener(tx, sc, in.ListenerArn)
		if err != nil {
			return err
		}
		if r.Listener.Protocol != "HTTPS" {
			return validationError("Certificates can only be added to HTTPS listeners")
		}
		for _, c := range in.Certificates {
			if !slices.Contains(r.SNICertificates, c.CertificateArn) {
				r.SNICertificates = append(r.SNICertificates, c.CertificateArn)
			}
			added = append(added, elbv2wire.Certificate{CertificateArn: c.CertificateArn, IsDefault: boolOr(nil, false)})
		}
		if len(r.SNICertificates)+1 > maxListenerCertificates {
			return protocol.ClientError("TooManyCertificates", "You've reached the limit on the number of certificates per load balancer")
		}
		return tx.Put(tableListeners, in.ListenerArn, r)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.AddListenerCertificatesOutput{Certificates: added}, nil
}

// RemoveListenerCertificates removes certificates from a listener's list;
// the default certificate is changed with ModifyListener instead.
func (s *Service) RemoveListenerCertificates(ctx context.Context, in *elbv2wire.RemoveListenerCertificatesInput) (*elbv2wire.RemoveListenerCertificatesOutput, error) {
	sc := scopeOf(ctx)
	err := s.store.Update(func(tx *store.Tx) error {
		r, err := getListener(tx, sc, in.ListenerArn)
		if err != nil {
			return err
		}
		for _, c := range in.Certificates {
			if slices.Contains(certificateARNs(r.Listener.Certificates), c.CertificateArn) {
				return operationNotPermitted("The default certificate '%s' cannot be removed from the listener", c.CertificateArn)
			}
			r.SNICertificates = slices.DeleteFunc(r.SNICertificates, func(a string) bool { return a == c.CertificateArn })
		}
		return tx.Put(tableListeners, in.ListenerArn, r)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.RemoveListenerCertificatesOutput{}, nil
}

// DescribeListenerCertificates lists a listener's certificates, the
// default one marked IsDefault.
func (s *Service) DescribeListenerCertificates(ctx context.Context, in *elbv2wire.DescribeListenerCertificatesInput) (*elbv2wire.DescribeListenerCertificatesOutput, error) {
	var r listenerRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		r, err = getListener(tx, scopeOf(ctx), in.ListenerArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	var certs []elbv2wire.Certificate
	for _, a := range certificateARNs(r.Listener.Certificates) {
		certs = append(certs, elbv2wire.Certificate{CertificateArn: a, IsDefault: boolOr(nil, true)})
	}
	for _, a := range r.SNICertificates {
		certs = append(certs, elbv2wire.Certificate{CertificateArn: a, IsDefault: boolOr(nil, false)})
	}
	page, next, err := pageInOrder(certs, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return &elbv2wire.DescribeListenerCertificatesOutput{Certificates: page, NextMarker: next}, nil
}

// pageInOrder returns one page of items in their given order.
func pageInOrder[T any](items []T, marker string, pageSize *int32) ([]T, string, error) {
	type keyed struct {
		key  string
		item T
	}
	ks := make([]keyed, len(items))
	for i, it := range items {
		ks[i] = keyed{fmt.Sprintf("%08d", i), it}
	}
	size := 400
	if pageSize != nil {
		size = int(*pageSize)
	}
	page, next, err := protocol.Page(ks, marker, size, func(k keyed) string { return k.key }, "ValidationError")
	out := make([]T, 0, len(page))
	for _, k := range page {
		out = append(out, k.item)
	}
	return out, next, err
}
