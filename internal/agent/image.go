package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/distribution/reference"
)

// snapshotter unpacks images; overlayfs is in every kernel kumo supports.
const snapshotter = "overlayfs"

// pullTimeout bounds one image pull.
const pullTimeout = 10 * time.Minute

// ensureImage returns the image ref names, pulling and unpacking it if it is
// not in containerd's store yet. Short docker.io names are normalized
// ("busybox" → "docker.io/library/busybox:latest").
func (a *Agent) ensureImage(ctx context.Context, ref string) (containerd.Image, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	name := named.String()
	unlock := a.lockImage(name)
	defer unlock()
	img, err := a.client.GetImage(ctx, name)
	if err == nil {
		unpacked, err := img.IsUnpacked(ctx, snapshotter)
		if err == nil && unpacked {
			return img, nil
		}
		if err := img.Unpack(ctx, snapshotter); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", name, err)
		}
		return img, nil
	}
	if !errdefs.IsNotFound(err) {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: a.registryHosts})
	img, err = a.client.Pull(ctx, name,
		containerd.WithResolver(resolver),
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(snapshotter))
	if err != nil {
		return nil, err
	}
	return img, nil
}

// lockImage serializes pulls of one image, so tasks started together
// download it once: the second finds it in the store.
func (a *Agent) lockImage(name string) (unlock func()) {
	a.mu.Lock()
	l, ok := a.imageLocks[name]
	if !ok {
		l = &sync.Mutex{}
		a.imageLocks[name] = l
	}
	a.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// registryHosts tells containerd's resolver where the registry of host is
// and how to talk to it: through ImageHostRewrite if set, plain HTTP for
// loopback registries (kumo's own, test registries), HTTPS otherwise.
func (a *Agent) registryHosts(host string) ([]docker.RegistryHost, error) {
	target, plain := host, false
	if a.cfg.ImageHostRewrite != nil {
		target, plain = a.cfg.ImageHostRewrite(host)
	}
	if target == "docker.io" {
		target = "registry-1.docker.io"
	}
	scheme := "https"
	if plain || isLoopbackHost(target) {
		scheme = "http"
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	authOpts := []docker.AuthorizerOpt{docker.WithAuthClient(client)}
	if a.cfg.RegistryCredentials != nil {
		authOpts = append(authOpts, docker.WithAuthCreds(a.cfg.RegistryCredentials))
	}
	return []docker.RegistryHost{{
		Client:       client,
		Authorizer:   docker.NewDockerAuthorizer(authOpts...),
		Host:         target,
		Scheme:       scheme,
		Path:         "/v2",
		Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve,
	}}, nil
}

// isLoopbackHost reports whether a registry host[:port] is on this machine.
func isLoopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// pullError is the container reason ECS reports for a failed pull.
func pullError(ref string, err error) string {
	return fmt.Sprintf("CannotPullContainerError: pull image %q: %v", ref, err)
}
