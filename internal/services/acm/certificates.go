package acm

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/acmwire"
)

// tableCertificates holds certificates by ARN (which holds account and region).
const tableCertificates = "acm/certificates"

// certRecord is a certificate with its key and chain in PEM.
type certRecord struct {
	Detail         acmwire.CertificateDetail
	CertificatePEM string
	ChainPEM       string
	PrivateKeyPEM  string
	Tags           []acmwire.Tag
	// IdempotencyToken of the RequestCertificate that made it.
	IdempotencyToken string `json:",omitempty"`
}

func (sc scope) certARN(id string) string {
	return arn.New("acm", sc.region, sc.account, "certificate/"+id)
}

func (sc scope) owns(a string) bool { return strings.HasPrefix(a, sc.certARN("")) }

func notFound(a string) error {
	return protocol.ClientError("ResourceNotFoundException", "Could not find certificate %s.", a)
}

// getCert reads a certificate of the scope or answers ResourceNotFoundException.
func getCert(tx *store.Tx, sc scope, a string) (certRecord, error) {
	if !arn.IsARN(a) {
		return certRecord{}, protocol.ClientError("InvalidArnException", "The ARN %s is not valid.", a)
	}
	if !sc.owns(a) {
		return certRecord{}, notFound(a)
	}
	r, ok, err := store.Get[certRecord](tx, tableCertificates, a)
	if err != nil {
		return r, protocol.ServerError("InternalFailure", "%v", err)
	}
	if !ok {
		return r, notFound(a)
	}
	return r, nil
}

// ImportCertificate stores a certificate and its key (or replaces the ones
// of an imported certificate, keeping its ARN and tags).
func (s *Service) ImportCertificate(ctx context.Context, in *acmwire.ImportCertificateRequest) (*acmwire.ImportCertificateResponse, error) {
	sc := scopeOf(ctx)
	pair, err := tls.X509KeyPair(append(append([]byte(nil), in.Certificate...), in.CertificateChain...), in.PrivateKey)
	if err != nil {
		return nil, protocol.ClientError("ValidationException", "The certificate and private key could not be read or do not match: %v", err)
	}
	if len(in.CertificateChain) > 0 {
		if _, err := parsePEMChain(in.CertificateChain); err != nil {
			return nil, protocol.ClientError("ValidationException", "Could not parse the certificate chain: %v", err)
		}
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	a := in.CertificateArn
	err = s.store.Update(func(tx *store.Tx) error {
		r := certRecord{Tags: in.Tags}
		if a != "" {
			old, err := getCert(tx, sc, a)
			if err != nil {
				return err
			}
			if old.Detail.Type != "IMPORTED" {
				return protocol.ClientError("ValidationException", "Certificate %s was not imported and cannot be reimported.", a)
			}
			if len(in.Tags) > 0 {
				return protocol.ClientError("InvalidParameterException", "Tags cannot be specified when reimporting a certificate.")
			}
			r.Tags = old.Tags
		} else {
			a = sc.certARN(arn.NewUUID())
		}
		r.Detail = describe(a, pair.Leaf, "IMPORTED", now)
		if old, ok, _ := store.Get[certRecord](tx, tableCertificates, a); ok {
			r.Detail.CreatedAt = old.Detail.CreatedAt
		}
		r.Detail.ImportedAt = protocol.NewTimestamp(now)
		r.CertificatePEM, r.ChainPEM, r.PrivateKeyPEM = string(in.Certificate), string(in.CertificateChain), string(in.PrivateKey)
		return tx.Put(tableCertificates, a, r)
	})
	if err != nil {
		return nil, err
	}
	return &acmwire.ImportCertificateResponse{CertificateArn: a}, nil
}

func parsePEMChain(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return out, nil
}

// describe builds the detail of a certificate as ACM reports it.
func describe(a string, c *x509.Certificate, certType string, now time.Time) acmwire.CertificateDetail {
	domain := c.Subject.CommonName
	if domain == "" && len(c.DNSNames) > 0 {
		domain = c.DNSNames[0]
	}
	sans := c.DNSNames
	if len(sans) == 0 {
		sans = []string{domain}
	}
	status := "ISSUED"
	if now.After(c.NotAfter) {
		status = "EXPIRED"
	}
	d := acmwire.CertificateDetail{
		CertificateArn:          a,
		DomainName:              domain,
		SubjectAlternativeNames: sans,
		Serial:                  colonHex(c.SerialNumber.Bytes()),
		Subject:                 c.Subject.String(),
		Issuer:                  issuerName(c),
		CreatedAt:               protocol.NewTimestamp(now),
		Status:                  status,
		NotBefore:               protocol.NewTimestamp(c.NotBefore),
		NotAfter:                protocol.NewTimestamp(c.NotAfter),
		KeyAlgorithm:            keyAlgorithm(c),
		SignatureAlgorithm:      strings.ReplaceAll(strings.ToUpper(c.SignatureAlgorithm.String()), "-", "WITH"),
		Type:                    certType,
		RenewalEligibility:      "INELIGIBLE",
	}
	for _, ku := range keyUsageNames(c.KeyUsage) {
		d.KeyUsages = append(d.KeyUsages, acmwire.KeyUsage{Name: ku})
	}
	for _, eku := range c.ExtKeyUsage {
		switch eku {
		case x509.ExtKeyUsageServerAuth:
			d.ExtendedKeyUsages = append(d.ExtendedKeyUsages, acmwire.ExtendedKeyUsage{Name: "TLS_WEB_SERVER_AUTHENTICATION", OID: "1.3.6.1.5.5.7.3.1"})
		case x509.ExtKeyUsageClientAuth:
			d.ExtendedKeyUsages = append(d.ExtendedKeyUsages, acmwire.ExtendedKeyUsage{Name: "TLS_WEB_CLIENT_AUTHENTICATION", OID: "1.3.6.1.5.5.7.3.2"})
		}
	}
	return d
}

func issuerName(c *x509.Certificate) string {
	if len(c.Issuer.Organization) > 0 {
		return c.Issuer.Organization[0]
	}
	return c.Issuer.CommonName
}

func colonHex(b []byte) string {
	h := hex.EncodeToString(b)
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

func keyAlgorithm(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA_%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return "EC_prime256v1"
		case 384:
			return "EC_secp384r1"
		case 521:
			return "EC_secp521r1"
		}
	}
	return "UNKNOWN"
}

func keyUsageNames(ku x509.KeyUsage) []string {
	names := []struct {
		bit  x509.KeyUsage
		name string
	}{
		{x509.KeyUsageDigitalSignature, "DIGITAL_SIGNATURE"},
		{x509.KeyUsageContentCommitment, "NON_REPUDIATION"},
		{x509.KeyUsageKeyEncipherment, "KEY_ENCIPHERMENT"},
		{x509.KeyUsageDataEncipherment, "DATA_ENCIPHERMENT"},
		{x509.KeyUsageKeyAgreement, "KEY_AGREEMENT"},
		{x509.KeyUsageCertSign, "CERTIFICATE_SIGNING"},
		{x509.KeyUsageCRLSign, "CRL_SIGNING"},
	}
	var out []string
	for _, n := range names {
		if ku&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// RequestCertificate issues a certificate from kumo's local CA at once:
// there is no domain to validate on a local machine, so the request is
// ISSUED, its validation options SUCCESS.
func (s *Service) RequestCertificate(ctx context.Context, in *acmwire.RequestCertificateRequest) (*acmwire.RequestCertificateResponse, error) {
	sc := scopeOf(ctx)
	if in.CertificateAuthorityArn != "" {
		return nil, protocol.ClientError("ValidationException", "Private certificate authorities are not supported by kumo; omit CertificateAuthorityArn to use kumo's local CA")
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	sans := append([]string{in.DomainName}, in.SubjectAlternativeNames...)
	slices.Sort(sans[1:])
	sans = slices.Compact(sans)
	if len(sans) > 100 {
		return nil, protocol.ClientError("LimitExceededException", "A certificate can have at most 100 domain names")
	}
	if existing, ok, err := s.byIdempotencyToken(sc, in); err != nil || ok {
		return &acmwire.RequestCertificateResponse{CertificateArn: existing}, err
	}
	ca, err := s.authority()
	if err != nil {
		return nil, protocol.ServerError("InternalFailure", "local CA: %v", err)
	}
	now := s.clock.Now()
	cert, err := ca.issue(in.DomainName, sans, in.KeyAlgorithm, now)
	if err != nil {
		return nil, protocol.ClientError("ValidationException", "Could not issue the certificate: %v", err)
	}
	leaf, _ := parsePEMChain(cert.certPEM)
	a := sc.certARN(arn.NewUUID())
	r := certRecord{
		Detail:         describe(a, leaf[0], "AMAZON_ISSUED", now),
		CertificatePEM: string(cert.certPEM), ChainPEM: string(ca.certPEM), PrivateKeyPEM: string(cert.keyPEM),
		Tags: in.Tags, IdempotencyToken: in.IdempotencyToken,
	}
	r.Detail.IssuedAt = protocol.NewTimestamp(now)
	r.Detail.Issuer = "kumo"
	r.Detail.RenewalEligibility = "ELIGIBLE"
	r.Detail.Options = in.Options
	r.Detail.DomainValidationOptions = validations(sans, cmpOr(in.ValidationMethod, "DNS"))
	err = s.store.Update(func(tx *store.Tx) error { return tx.Put(tableCertificates, a, r) })
	if err != nil {
		return nil, err
	}
	return &acmwire.RequestCertificateResponse{CertificateArn: a}, nil
}

// byIdempotencyToken finds the certificate an earlier request with the same
// token and domain made in the last hour.
func (s *Service) byIdempotencyToken(sc scope, in *acmwire.RequestCertificateRequest) (string, bool, error) {
	if in.IdempotencyToken == "" {
		return "", false, nil
	}
	var found string
	err := s.store.View(func(tx *store.Tx) error {
		all, err := store.List[certRecord](tx, tableCertificates, sc.certARN(""))
		for _, r := range all {
			if r.IdempotencyToken == in.IdempotencyToken && r.Detail.DomainName == in.DomainName &&
				s.clock.Now().Sub(protocol.TimeOf(r.Detail.CreatedAt)) < time.Hour {
				found = r.Detail.CertificateArn
			}
		}
		return err
	})
	return found, found != "", err
}

// validations are the domain validation options of an issued certificate,
// with the CNAME record ACM would have asked for.
func validations(domains []string, method string) []acmwire.DomainValidation {
	var out []acmwire.DomainValidation
	for _, d := range domains {
		sum := sha256.Sum256([]byte(d))
		v := acmwire.DomainValidation{DomainName: d, ValidationDomain: d, ValidationStatus: "SUCCESS", ValidationMethod: method}
		if method == "DNS" {
			v.ResourceRecord = &acmwire.ResourceRecord{Name: "_" + hex.EncodeToString(sum[:8]) + "." + strings.TrimPrefix(d, "*.") + ".",
				Type: "CNAME", Value: "_" + hex.EncodeToString(sum[8:16]) + ".acm-validations.aws."}
		}
		out = append(out, v)
	}
	return out
}

// DescribeCertificate reports a certificate, with the load balancers using it.
func (s *Service) DescribeCertificate(ctx context.Context, in *acmwire.DescribeCertificateRequest) (*acmwire.DescribeCertificateResponse, error) {
	var r certRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		r, err = getCert(tx, scopeOf(ctx), in.CertificateArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	users, err := s.usersOf(ctx, in.CertificateArn)
	if err != nil {
		return nil, err
	}
	d := r.Detail
	d.InUseBy = users
	if d.Status == "ISSUED" && s.clock.Now().After(protocol.TimeOf(d.NotAfter)) {
		d.Status = "EXPIRED"
	}
	return &acmwire.DescribeCertificateResponse{Certificate: &d}, nil
}

func (s *Service) usersOf(ctx context.Context, a string) ([]string, error) {
	if s.users == nil {
		return nil, nil
	}
	users, err := s.users(ctx, a)
	if err != nil {
		return nil, protocol.ServerError("InternalFailure", "%v", err)
	}
	return users, nil
}

// GetCertificate returns a certificate and its chain in PEM (for issued
// certificates, the chain is kumo's CA: trust it to verify listeners).
func (s *Service) GetCertificate(ctx context.Context, in *acmwire.GetCertificateRequest) (*acmwire.GetCertificateResponse, error) {
	var r certRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		r, err = getCert(tx, scopeOf(ctx), in.CertificateArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &acmwire.GetCertificateResponse{Certificate: r.CertificatePEM, CertificateChain: r.ChainPEM}, nil
}

// defaultKeyTypes are what ListCertificates returns without a keyTypes
// filter, as in ACM.
var defaultKeyTypes = []string{"RSA_1024", "RSA_2048"}

// ListCertificates lists certificates, filtered by status and key type.
func (s *Service) ListCertificates(ctx context.Context, in *acmwire.ListCertificatesRequest) (*acmwire.ListCertificatesResponse, error) {
	sc := scopeOf(ctx)
	keyTypes := defaultKeyTypes
	if in.Includes != nil && len(in.Includes.KeyTypes) > 0 {
		keyTypes = in.Includes.KeyTypes
	}
	var all []certRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		all, err = store.List[certRecord](tx, tableCertificates, sc.certARN(""))
		return err
	})
	if err != nil {
		return nil, err
	}
	var summaries []acmwire.CertificateSummary
	for _, r := range all {
		d := r.Detail
		if (len(in.CertificateStatuses) > 0 && !slices.Contains(in.CertificateStatuses, d.Status)) || !slices.Contains(keyTypes, d.KeyAlgorithm) {
			continue
		}
		users, err := s.usersOf(ctx, d.CertificateArn)
		if err != nil {
			return nil, err
		}
		summaries = append(summaries, summary(d, len(users) > 0))
	}
	sortSummaries(summaries, in.SortBy, in.SortOrder)
	max := 1000
	if in.MaxItems != nil {
		max = int(*in.MaxItems)
	}
	keyed := make([]keyedSummary, len(summaries))
	for i, sm := range summaries {
		keyed[i] = keyedSummary{fmt.Sprintf("%06d", i), sm}
	}
	page, next, err := protocol.Page(keyed, in.NextToken, max, func(k keyedSummary) string { return k.key }, "InvalidArgsException")
	if err != nil {
		return nil, err
	}
	out := &acmwire.ListCertificatesResponse{NextToken: next}
	for _, k := range page {
		out.CertificateSummaryList = append(out.CertificateSummaryList, k.summary)
	}
	return out, nil
}

type keyedSummary struct {
	key     string
	summary acmwire.CertificateSummary
}

func summary(d acmwire.CertificateDetail, inUse bool) acmwire.CertificateSummary {
	more := len(d.SubjectAlternativeNames) > 100
	sm := acmwire.CertificateSummary{
		CertificateArn: d.CertificateArn, DomainName: d.DomainName, SubjectAlternativeNameSummaries: d.SubjectAlternativeNames,
		HasAdditionalSubjectAlternativeNames: &more, Status: d.Status, Type: d.Type, KeyAlgorithm: d.KeyAlgorithm,
		InUse: &inUse, RenewalEligibility: d.RenewalEligibility, NotBefore: d.NotBefore, NotAfter: d.NotAfter,
		CreatedAt: d.CreatedAt, IssuedAt: d.IssuedAt, ImportedAt: d.ImportedAt,
	}
	for _, ku := range d.KeyUsages {
		sm.KeyUsages = append(sm.KeyUsages, ku.Name)
	}
	for _, eku := range d.ExtendedKeyUsages {
		sm.ExtendedKeyUsages = append(sm.ExtendedKeyUsages, eku.Name)
	}
	return sm
}

// sortSummaries orders by creation time when asked, by ARN otherwise.
func sortSummaries(s []acmwire.CertificateSummary, by, order string) {
	sort.SliceStable(s, func(i, j int) bool {
		if by == "CREATED_AT" {
			ti, tj := protocol.TimeOf(s[i].CreatedAt), protocol.TimeOf(s[j].CreatedAt)
			if order == "DESCENDING" {
				return ti.After(tj)
			}
			return ti.Before(tj)
		}
		return s[i].CertificateArn < s[j].CertificateArn
	})
}

// DeleteCertificate deletes a certificate no load balancer uses.
func (s *Service) DeleteCertificate(ctx context.Context, in *acmwire.DeleteCertificateRequest) (*acmwire.DeleteCertificateOutput, error) {
	sc := scopeOf(ctx)
	users, err := s.usersOf(ctx, in.CertificateArn)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(func(tx *store.Tx) error {
		if _, err := getCert(tx, sc, in.CertificateArn); err != nil {
			return err
		}
		if len(users) > 0 {
			return protocol.ClientError("ResourceInUseException", "Certificate %s in use by %s", in.CertificateArn, strings.Join(users, ", "))
		}
		return tx.Delete(tableCertificates, in.CertificateArn)
	})
	if err != nil {
		return nil, err
	}
	return &acmwire.DeleteCertificateOutput{}, nil
}

// KeyPair returns a certificate with its chain and private key, for the
// HTTPS listeners of load balancers. Parsed pairs are cached until the
// certificate is reimported.
func (s *Service) KeyPair(ctx context.Context, certARN string) (*tls.Certificate, error) {
	a, err := arn.Parse(certARN)
	if err != nil {
		return nil, err
	}
	var r certRecord
	err = s.store.View(func(tx *store.Tx) (err error) {
		r, err = getCert(tx, scope{account: a.AccountID, region: a.Region}, certARN)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.keyPairs[certARN]; ok && c.certPEM == r.CertificatePEM {
		return c.pair, nil
	}
	chain := r.CertificatePEM
	if r.Detail.Type == "IMPORTED" {
		chain += "\n" + r.ChainPEM
	}
	pair, err := tls.X509KeyPair([]byte(chain), []byte(r.PrivateKeyPEM))
	if err != nil {
		return nil, err
	}
	s.keyPairs[certARN] = cachedKeyPair{certPEM: r.CertificatePEM, pair: &pair}
	return &pair, nil
}

type cachedKeyPair struct {
	certPEM string
	pair    *tls.Certificate
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
