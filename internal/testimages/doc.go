// Package testimages builds kumo's fixture container images without Docker
// or network access, and serves them for tests.
//
// There are two images, both OCI, linux/amd64 and deterministic (fixed
// timestamps, sorted contents), so their digests only change when their
// inputs do:
//
//	Busybox()  kumo/busybox   /bin/busybox from Debian's busybox-static,
//	                          /bin/<applet> links, /etc/passwd, /etc/group,
//	                          /root, /tmp; Cmd ["sh"]
//	App()      kumo/testapp   Busybox + /app/testapp (./testapp, compiled
//	                          static); Entrypoint ["/app/testapp"],
//	                          Cmd ["serve"], PORT=8080, 8080/tcp
//
// They reach a runtime in one of three ways:
//
//	in-process registry   host := StartRegistry(t); f := PushFixtures(t, host)
//	OCI layout on disk    WriteLayout(dir, img)   (skopeo: oci:DIR)
//	OCI archive           WriteOCIArchive(w, img, ref)   (containerd Import)
//
// Shell scripts use cmd/kumo-fixtures, which writes the layouts or serves
// the registry.
package testimages
