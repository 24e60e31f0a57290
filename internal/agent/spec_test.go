package agent

import (
	"debug/elf"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kumo-project/kumo/internal/node"
)

func TestProcessArgs(t *testing.T) {
	t.Parallel()
	img := ocispec.ImageConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"default"}}
	tests := []struct {
		name       string
		entryPoint []string
		command    []string
		want       []string
	}{
		{"image defaults", nil, nil, []string{"/entry", "default"}},
		{"command replaces CMD", nil, []string{"other"}, []string{"/entry", "other"}},
		{"entryPoint drops CMD", []string{"/bin/sh"}, nil, []string{"/bin/sh"}},
		{"both", []string{"/bin/sh", "-c"}, []string{"exit 1"}, []string{"/bin/sh", "-c", "exit 1"}},
		{"empty command", nil, []string{}, []string{"/entry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := processArgs(img, node.ContainerSpec{EntryPoint: tt.entryPoint, Command: tt.command})
			if !slices.Equal(got, tt.want) {
				t.Fatalf("processArgs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHealthArgv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		command []string
		want    []string
		wantErr bool
	}{
		{"CMD", []string{"CMD", "curl", "-f", "localhost"}, []string{"curl", "-f", "localhost"}, false},
		{"CMD-SHELL", []string{"CMD-SHELL", "curl -f localhost || exit 1"}, []string{"/bin/sh", "-c", "curl -f localhost || exit 1"}, false},
		{"no kind", []string{"curl"}, nil, true},
		{"unknown kind", []string{"RUN", "x"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := healthArgv(tt.command)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Fatalf("healthArgv = %q, %v", got, err)
			}
		})
	}
}

func TestDependenciesMet(t *testing.T) {
	t.Parallel()
	zero, one := 0, 1
	started := time.Unix(1, 0)
	tests := []struct {
		name      string
		condition string
		dep       node.ContainerStatus
		ready     bool
		unmet     bool
	}{
		{"START pending", node.ConditionStart, node.ContainerStatus{Status: node.StatusPending}, false, false},
		{"START running", node.ConditionStart, node.ContainerStatus{Status: node.StatusRunning, StartedAt: started}, true, false},
		{"COMPLETE running", node.ConditionComplete, node.ContainerStatus{Status: node.StatusRunning, StartedAt: started}, false, false},
		{"COMPLETE failed", node.ConditionComplete, node.ContainerStatus{Status: node.StatusStopped, ExitCode: &one}, true, false},
		{"COMPLETE never ran", node.ConditionComplete, node.ContainerStatus{Status: node.StatusStopped}, false, true},
		{"SUCCESS exit 0", node.ConditionSuccess, node.ContainerStatus{Status: node.StatusStopped, ExitCode: &zero}, true, false},
		{"SUCCESS exit 1", node.ConditionSuccess, node.ContainerStatus{Status: node.StatusStopped, ExitCode: &one}, false, true},
		{"HEALTHY unknown", node.ConditionHealthy, node.ContainerStatus{Status: node.StatusRunning, HealthStatus: node.HealthUnknown}, false, false},
		{"HEALTHY healthy", node.ConditionHealthy, node.ContainerStatus{Status: node.StatusRunning, HealthStatus: node.HealthHealthy}, true, false},
		{"HEALTHY stopped", node.ConditionHealthy, node.ContainerStatus{Status: node.StatusStopped, ExitCode: &zero}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dep := tt.dep
			dep.Name = "dep"
			app := node.ContainerSpec{Name: "app", DependsOn: []node.Dependency{{ContainerName: "dep", Condition: tt.condition}}}
			rec := record{Status: node.TaskStatus{Containers: []node.ContainerStatus{dep, {Name: "app"}}}}
			ready, unmet := dependenciesMet(rec, app)
			if ready != tt.ready || (unmet != "") != tt.unmet {
				t.Fatalf("dependenciesMet = %v, %q; want ready %v, unmet %v", ready, unmet, tt.ready, tt.unmet)
			}
		})
	}
}

func TestTaskHealth(t *testing.T) {
	t.Parallel()
	check := &node.HealthCheck{Command: []string{"CMD", "true"}}
	tests := []struct {
		name string
		spec []node.ContainerSpec
		st   []string // health of each container
		want string
	}{
		{"no checks", []node.ContainerSpec{{Name: "a", Essential: true}}, []string{""}, node.HealthUnknown},
		{"all healthy", []node.ContainerSpec{{Name: "a", Essential: true, HealthCheck: check}, {Name: "b", Essential: true}}, []string{node.HealthHealthy, ""}, node.HealthHealthy},
		{"one unknown", []node.ContainerSpec{{Name: "a", Essential: true, HealthCheck: check}, {Name: "b", Essential: true, HealthCheck: check}}, []string{node.HealthHealthy, node.HealthUnknown}, node.HealthUnknown},
		{"essential unhealthy", []node.ContainerSpec{{Name: "a", Essential: true, HealthCheck: check}, {Name: "b", Essential: true, HealthCheck: check}}, []string{node.HealthHealthy, node.HealthUnhealthy}, node.HealthUnhealthy},
		{"non-essential unhealthy", []node.ContainerSpec{{Name: "a", Essential: true, HealthCheck: check}, {Name: "b", HealthCheck: check}}, []string{node.HealthHealthy, node.HealthUnhealthy}, node.HealthHealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := record{Spec: node.TaskSpec{Containers: tt.spec}}
			for i, c := range tt.spec {
				rec.Status.Containers = append(rec.Status.Containers, node.ContainerStatus{Name: c.Name, HealthStatus: tt.st[i]})
			}
			if got := taskHealth(rec); got != tt.want {
				t.Fatalf("taskHealth = %s, want %s", got, tt.want)
			}
		})
	}
}

// staticExecutable reports whether the test binary can run inside a
// container without the host's libc.
func staticExecutable() bool {
	f, err := elf.Open(os.Args[0])
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// TestContainerSpec runs one container per setting and checks what the
// container itself observes.
func TestContainerSpec(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	tests := []struct {
		name  string
		setup func(c *node.ContainerSpec)
		want  string // a line the container prints
		skip  string
	}{
		{"environment", func(c *node.ContainerSpec) {
			c.Environment = []node.KeyValue{{Name: "GREETING", Value: "hi there"}}
			c.Command = []string{"sh", "-c", `echo "$GREETING"`}
		}, "hi there", ""},
		{"metadata URI", func(c *node.ContainerSpec) {
			c.Command = []string{"sh", "-c", `echo "${ECS_CONTAINER_METADATA_URI_V4%/*}"`}
		}, "http://169.254.170.2/v4", ""},
		{"entryPoint and command", func(c *node.ContainerSpec) {
			c.EntryPoint, c.Command = []string{"echo"}, []string{"hello", "world"}
		}, "hello world", ""},
		{"working directory", func(c *node.ContainerSpec) {
			c.WorkingDirectory, c.Command = "/tmp", []string{"pwd"}
		}, "/tmp", ""},
		{"user", func(c *node.ContainerSpec) {
			c.User, c.Command = "1234:5678", []string{"sh", "-c", "echo $(id -u):$(id -g)"}
		}, "1234:5678", ""},
		{"hostname", func(c *node.ContainerSpec) {
			c.Hostname, c.Command = "web", []string{"hostname"}
		}, "web", ""},
		{"dns servers", func(c *node.ContainerSpec) {
			c.DNSServers, c.Command = []string{"10.9.9.9"}, []string{"cat", "/etc/resolv.conf"}
		}, "nameserver 10.9.9.9", ""},
		{"extra hosts", func(c *node.ContainerSpec) {
			c.ExtraHosts, c.Command = []node.KeyValue{{Name: "db.local", Value: "10.1.2.3"}}, []string{"grep", "db.local", "/etc/hosts"}
		}, "10.1.2.3\tdb.local", ""},
		{"ulimits", func(c *node.ContainerSpec) {
			c.Ulimits, c.Command = []node.Ulimit{{Name: "nofile", Soft: 1000, Hard: 2000}}, []string{"sh", "-c", "ulimit -n"}
		}, "1000", ""},
		{"read-only root filesystem", func(c *node.ContainerSpec) {
			c.ReadonlyRootFilesystem, c.Command = true, []string{"sh", "-c", "touch /x 2>/dev/null || echo read-only"}
		}, "read-only", ""},
		{"privileged", func(c *node.ContainerSpec) {
			c.Privileged, c.Command = true, []string{"sh", "-c", "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && echo mounted"}
		}, "mounted", ""},
		{"unprivileged", func(c *node.ContainerSpec) {
			c.Command = []string{"sh", "-c", "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m 2>/dev/null || echo denied"}
		}, "denied", ""},
		{"init process", func(c *node.ContainerSpec) {
			c.InitProcessEnabled, c.Command = true, []string{"sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo"}
		}, "/kumo-init init -- sh -c tr '\\0' ' ' < /proc/1/cmdline; echo ", skipUnlessStatic()},
	}
	var containers []node.ContainerSpec
	main := sh("main", true, "exit 0")
	for i, tt := range tests {
		if tt.skip != "" {
			t.Logf("%s: skipped: %s", tt.name, tt.skip)
			continue
		}
		c := node.ContainerSpec{Name: "c" + string(rune('a'+i)), Image: busyboxImage}
		tt.setup(&c)
		containers = append(containers, c)
		main.DependsOn = append(main.DependsOn, node.Dependency{ContainerName: c.Name, Condition: node.ConditionComplete})
	}
	id := e.run(append(containers, main)...)
	st := e.waitStopped(id)
	for i, tt := range tests {
		if tt.skip != "" {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			name := "c" + string(rune('a'+i))
			out := e.logLines(id, name, "stdout")
			if !slices.Contains(out, tt.want) {
				t.Fatalf("container printed %q (stderr %q, status %+v), want line %q",
					out, e.logLines(id, name, "stderr"), container(st, name), tt.want)
			}
		})
	}
}

func skipUnlessStatic() string {
	if staticExecutable() {
		return ""
	}
	return "the test binary is dynamically linked (build with CGO_ENABLED=0 to run kumo init in a container)"
}

func TestHostBridgeAndNoneModes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	tests := []struct {
		mode   string
		script string
		check  func(t *testing.T, st node.TaskStatus, stdout []string)
	}{
		{node.NetworkHost, "wget -qO- $ECS_CONTAINER_METADATA_URI_V4", func(t *testing.T, st node.TaskStatus, stdout []string) {
			if st.PrivateIPv4 != "" {
				t.Errorf("host mode task has IP %s", st.PrivateIPv4)
			}
			if len(stdout) != 1 || !strings.Contains(stdout[0], `"Name":"app"`) {
				t.Errorf("host-mode metadata = %q", stdout)
			}
		}},
		{node.NetworkBridge, "echo ok", func(t *testing.T, st node.TaskStatus, stdout []string) {
			b := container(st, "app").NetworkBindings
			if len(b) != 1 || b[0].ContainerPort != 8080 || b[0].HostPort < 32768 {
				t.Errorf("bridge bindings = %+v", b)
			}
		}},
		{node.NetworkNone, "ip -o link | grep -v ' lo:' || echo only lo", func(t *testing.T, st node.TaskStatus, stdout []string) {
			if !slices.Equal(stdout, []string{"only lo"}) {
				t.Errorf("none mode interfaces: %q", stdout)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			app := sh("app", true, tt.script)
			if tt.mode == node.NetworkBridge {
				app.PortMappings = []node.PortMapping{{ContainerPort: 8080, Protocol: "tcp"}}
			}
			id := e.runSpec(node.TaskSpec{NetworkMode: tt.mode, Containers: []node.ContainerSpec{app}})
			st := e.waitStopped(id)
			if exitCode(container(st, "app")) != 0 {
				t.Fatalf("task = %+v, stderr %q", st, e.logLines(id, "app", "stderr"))
			}
			tt.check(t, st, e.logLines(id, "app", "stdout"))
		})
	}
}
