package acm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsacm "github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/gateway"
	"github.com/kumo-project/kumo/internal/store"
)

// users is a stand-in for ELBv2's CertificateUsers: the tests say who uses
// which certificate.
type users struct {
	mu sync.Mutex
	by map[string][]string
}

func (u *users) set(cert string, lbs ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.by[cert] = lbs
}

func (u *users) of(_ context.Context, cert string) ([]string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.by[cert], nil
}

type apiEnv struct {
	client  *awsacm.Client
	svc     *Service
	users   *users
	dataDir string
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	u := &users{by: map[string][]string{}}
	svc := New(Config{Store: st, Clock: clock.Real{}, Log: log, DataDir: dir, Users: u.of})
	gw := gateway.New(gateway.AnyCredentials{AccountID: "000000000000", DefaultRegion: "us-east-1"}, log)
	gw.Register(svc.Gateway())
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	client := awsacm.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
	})
	return &apiEnv{client: client, svc: svc, users: u, dataDir: dir}
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// selfSignedPEM makes an EC certificate and key for name in PEM.
func selfSignedPEM(t *testing.T, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: name, Organization: []string{"Example"}},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func TestRequestedCertificateIsIssuedByTheLocalCA(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	out, err := e.client.RequestCertificate(ctx, &awsacm.RequestCertificateInput{
		DomainName: aws.String("web.example.test"), SubjectAlternativeNames: []string{"*.web.example.test"},
		IdempotencyToken: aws.String("tok1"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.client.RequestCertificate(ctx, &awsacm.RequestCertificateInput{DomainName: aws.String("web.example.test"), IdempotencyToken: aws.String("tok1")})
	if err != nil || *again.CertificateArn != *out.CertificateArn {
		t.Fatalf("same idempotency token gave %v, %v", again, err)
	}
	d, err := e.client.DescribeCertificate(ctx, &awsacm.DescribeCertificateInput{CertificateArn: out.CertificateArn})
	if err != nil {
		t.Fatal(err)
	}
	c := d.Certificate
	if c.Status != types.CertificateStatusIssued || c.Type != types.CertificateTypeAmazonIssued || *c.DomainName != "web.example.test" ||
		!slices.Equal(c.SubjectAlternativeNames, []string{"web.example.test", "*.web.example.test"}) || c.KeyAlgorithm != types.KeyAlgorithmRsa2048 ||
		len(c.DomainValidationOptions) != 2 || c.DomainValidationOptions[0].ValidationStatus != types.DomainStatusSuccess {
		t.Fatalf("detail %+v", c)
	}
	// The certificate chains to the CA kept in the data dir.
	got, err := e.client.GetCertificate(ctx, &awsacm.GetCertificateInput{CertificateArn: out.CertificateArn})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(*got.CertificateChain))
	block, _ := pem.Decode([]byte(*got.Certificate))
	leaf, _ := x509.ParseCertificate(block.Bytes)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "a.web.example.test"}); err != nil {
		t.Fatalf("issued certificate does not verify against the local CA: %v", err)
	}
	if _, err := e.svc.KeyPair(ctx, *out.CertificateArn); err != nil {
		t.Fatalf("KeyPair: %v", err)
	}
	tags, err := e.client.ListTagsForCertificate(ctx, &awsacm.ListTagsForCertificateInput{CertificateArn: out.CertificateArn})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Key != "team" {
		t.Fatalf("tags %v %v", tags, err)
	}
}

func TestImportListDeleteAndErrors(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	certPEM, keyPEM := selfSignedPEM(t, "shop.test")
	imp, err := e.client.ImportCertificate(ctx, &awsacm.ImportCertificateInput{Certificate: certPEM, PrivateKey: keyPEM})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.client.DescribeCertificate(ctx, &awsacm.DescribeCertificateInput{CertificateArn: imp.CertificateArn})
	if err != nil {
		t.Fatal(err)
	}
	if d.Certificate.Type != types.CertificateTypeImported || *d.Certificate.DomainName != "shop.test" ||
		d.Certificate.KeyAlgorithm != types.KeyAlgorithmEcPrime256v1 || *d.Certificate.Issuer != "Example" {
		t.Fatalf("detail %+v", d.Certificate)
	}
	rsa, err := e.client.RequestCertificate(ctx, &awsacm.RequestCertificateInput{DomainName: aws.String("rsa.test")})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("list defaults to RSA_2048 like ACM", func(t *testing.T) {
		l, err := e.client.ListCertificates(ctx, &awsacm.ListCertificatesInput{})
		if err != nil || len(l.CertificateSummaryList) != 1 || *l.CertificateSummaryList[0].CertificateArn != *rsa.CertificateArn {
			t.Fatalf("list %+v %v", l, err)
		}
		l, err = e.client.ListCertificates(ctx, &awsacm.ListCertificatesInput{
			Includes: &types.Filters{KeyTypes: []types.KeyAlgorithm{types.KeyAlgorithmEcPrime256v1, types.KeyAlgorithmRsa2048}}, MaxItems: aws.Int32(1)})
		if err != nil || len(l.CertificateSummaryList) != 1 || l.NextToken == nil {
			t.Fatalf("first page %+v %v", l, err)
		}
		l2, err := e.client.ListCertificates(ctx, &awsacm.ListCertificatesInput{
			Includes: &types.Filters{KeyTypes: []types.KeyAlgorithm{types.KeyAlgorithmEcPrime256v1, types.KeyAlgorithmRsa2048}}, NextToken: l.NextToken})
		if err != nil || len(l2.CertificateSummaryList) != 1 || l2.NextToken != nil {
			t.Fatalf("second page %+v %v", l2, err)
		}
	})
	t.Run("in use", func(t *testing.T) {
		e.users.set(*imp.CertificateArn, "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/1")
		_, err := e.client.DeleteCertificate(ctx, &awsacm.DeleteCertificateInput{CertificateArn: imp.CertificateArn})
		if errorCode(err) != "ResourceInUseException" {
			t.Fatalf("delete of a used certificate: %v", err)
		}
		d, _ := e.client.DescribeCertificate(ctx, &awsacm.DescribeCertificateInput{CertificateArn: imp.CertificateArn})
		if len(d.Certificate.InUseBy) != 1 {
			t.Fatalf("InUseBy %v", d.Certificate.InUseBy)
		}
		e.users.set(*imp.CertificateArn)
	})
	t.Run("reimport keeps the ARN", func(t *testing.T) {
		c2, k2 := selfSignedPEM(t, "shop2.test")
		out, err := e.client.ImportCertificate(ctx, &awsacm.ImportCertificateInput{CertificateArn: imp.CertificateArn, Certificate: c2, PrivateKey: k2})
		if err != nil || *out.CertificateArn != *imp.CertificateArn {
			t.Fatalf("reimport %v %v", out, err)
		}
		d, _ := e.client.DescribeCertificate(ctx, &awsacm.DescribeCertificateInput{CertificateArn: imp.CertificateArn})
		if *d.Certificate.DomainName != "shop2.test" {
			t.Fatalf("reimport kept %s", *d.Certificate.DomainName)
		}
	})
	_, otherKey := selfSignedPEM(t, "other.test")
	missing := "arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-4000-8000-000000000000"
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"key does not match", func() error {
			_, err := e.client.ImportCertificate(ctx, &awsacm.ImportCertificateInput{Certificate: certPEM, PrivateKey: otherKey})
			return err
		}, "ValidationException"},
		{"describe missing", func() error {
			_, err := e.client.DescribeCertificate(ctx, &awsacm.DescribeCertificateInput{CertificateArn: aws.String(missing)})
			return err
		}, "ResourceNotFoundException"},
		{"bad ARN", func() error {
			_, err := e.client.DescribeCertificate(ctx, &awsacm.DescribeCertificateInput{CertificateArn: aws.String("arn:aws:acm:us-east-1:000000000000:nope")})
			return err
		}, "ResourceNotFoundException"},
		{"reserved tag", func() error {
			_, err := e.client.AddTagsToCertificate(ctx, &awsacm.AddTagsToCertificateInput{CertificateArn: imp.CertificateArn,
				Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}})
			return err
		}, "InvalidTagException"},
		{"private CA", func() error {
			_, err := e.client.RequestCertificate(ctx, &awsacm.RequestCertificateInput{DomainName: aws.String("x.test"),
				CertificateAuthorityArn: aws.String("arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/x")})
			return err
		}, "ValidationException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code := errorCode(tc.call()); code != tc.code {
				t.Fatalf("error code %q, want %q", code, tc.code)
			}
		})
	}
	t.Run("tags", func(t *testing.T) {
		_, err := e.client.AddTagsToCertificate(ctx, &awsacm.AddTagsToCertificateInput{CertificateArn: imp.CertificateArn,
			Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.client.RemoveTagsFromCertificate(ctx, &awsacm.RemoveTagsFromCertificateInput{CertificateArn: imp.CertificateArn,
			Tags: []types.Tag{{Key: aws.String("a")}, {Key: aws.String("b"), Value: aws.String("other")}}})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := e.client.ListTagsForCertificate(ctx, &awsacm.ListTagsForCertificateInput{CertificateArn: imp.CertificateArn})
		if len(l.Tags) != 1 || *l.Tags[0].Key != "b" {
			t.Fatalf("tags after remove %+v", l.Tags)
		}
	})
	if _, err := e.client.DeleteCertificate(ctx, &awsacm.DeleteCertificateInput{CertificateArn: imp.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.DescribeCertificate(ctx, &awsacm.DescribeCertificateInput{CertificateArn: imp.CertificateArn}); errorCode(err) != "ResourceNotFoundException" {
		t.Fatalf("deleted certificate still described: %v", err)
	}
}

func TestCAPersistsInDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := loadOrCreateAuthority(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadOrCreateAuthority(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !a.cert.Equal(b.cert) {
		t.Fatal("second start made a new CA")
	}
}
