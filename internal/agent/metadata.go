package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/namespaces"

	"github.com/kumo-project/kumo/internal/agent/network"
	"github.com/kumo-project/kumo/internal/node"
)

// nsContext puts the agent's containerd namespace on ctx.
func (a *Agent) nsContext(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, a.cfg.Namespace)
}

// serveMetadata serves the task metadata endpoint on 169.254.170.2:80 in
// the task's namespace (awsvpc and bridge). Host-mode tasks use the
// agent-wide endpoint on 127.0.0.1; none-mode tasks have no endpoint.
func (a *Agent) serveMetadata(t *task, sb *network.Sandbox) {
	mode := a.snapshot(t).Spec.NetworkMode
	if (mode != node.NetworkAWSVPC && mode != node.NetworkBridge) || sb.NetNSPath == "" {
		return
	}
	a.stopMetadata(t)
	closer, err := a.cfg.Network.ServeInNetNS(sb.NetNSPath, metadataHost+":80", &metadataHandler{a: a, taskID: t.id})
	if err != nil {
		a.cfg.Logger.Warn("task metadata endpoint unavailable", "task", t.id, "err", err)
		return
	}
	t.metadata = closer
}

// stopMetadata closes the task's metadata endpoint, if it has one.
func (a *Agent) stopMetadata(t *task) {
	if t.metadata != nil {
		t.metadata.Close()
		t.metadata = nil
	}
}

// startHostMetadata listens on 127.0.0.1 for the metadata requests of
// host-mode tasks. The port is kept in the data dir so the URIs baked into
// running containers' environment stay valid across restarts.
func (a *Agent) startHostMetadata() error {
	portFile := filepath.Join(a.cfg.DataDir, "agent", "metadata-port")
	port := a.cfg.HostMetadataPort
	if port == 0 {
		if b, err := os.ReadFile(portFile); err == nil {
			port, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil && port != 0 && a.cfg.HostMetadataPort == 0 {
		l, err = net.Listen("tcp", "127.0.0.1:0") // the remembered port was taken
	}
	if err != nil {
		return fmt.Errorf("agent: host metadata endpoint: %w", err)
	}
	a.hostMetaAddr = l.Addr().String()
	_, p, _ := net.SplitHostPort(a.hostMetaAddr)
	if err := os.WriteFile(portFile, []byte(p+"\n"), 0o600); err != nil {
		l.Close()
		return err
	}
	a.hostMetadata = &http.Server{Handler: &metadataHandler{a: a}, ReadHeaderTimeout: 10 * time.Second}
	go a.hostMetadata.Serve(l)
	return nil
}

// metadataHandler serves the ECS task metadata endpoint v3 and v4:
//
//	/v4/<id>             the container
//	/v4/<id>/task        the task and its containers
//	/v4/<id>/stats       Docker-style stats of the container
//	/v4/<id>/task/stats  Docker-style stats of every container, by id
//
// taskID restricts it to one task ("" for the host-mode endpoint).
type metadataHandler struct {
	a      *Agent
	taskID string
}

// taskIDKey is the context key of the task a metadata request came from.
type taskIDKey struct{}

// TaskIDFromContext returns the ID of the task whose metadata endpoint
// received the request, for Config.ExtraMetadata; "" on the host-mode
// endpoint, which all host-mode tasks share.
func TaskIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(taskIDKey{}).(string)
	return id
}

func (h *metadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if parts[0] != "v3" && parts[0] != "v4" && h.a.cfg.ExtraMetadata != nil {
		h.a.cfg.ExtraMetadata.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), taskIDKey{}, h.taskID)))
		return
	}
	if len(parts) < 2 || (parts[0] != "v3" && parts[0] != "v4") || r.Method != http.MethodGet {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	rec, name, ok := h.a.findContainer(h.taskID, parts[1])
	if !ok {
		http.Error(w, "unknown container", http.StatusNotFound)
		return
	}
	var body any
	var err error
	switch strings.Join(parts[2:], "/") {
	case "":
		body = h.a.containerMetadata(rec, name)
	case "task":
		body = h.a.taskMetadata(rec)
	case "stats":
		body, err = h.a.dockerStats(r.Context(), rec, name)
	case "task/stats":
		body, err = h.a.taskDockerStats(r.Context(), rec)
	default:
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// findContainer finds the task record of a container runtime ID.
func (a *Agent) findContainer(taskID, runtimeID string) (record, string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, t := range a.tasks {
		if taskID != "" && id != taskID {
			continue
		}
		for _, c := range t.rec.Spec.Containers {
			if containerID(id, c.Name) == runtimeID {
				r := t.rec
				r.Status = cloneStatus(t.rec.Status)
				return r, c.Name, true
			}
		}
	}
	return record{}, "", false
}

// setTimes adds the non-zero times to a metadata object, formatted as the
// ECS endpoint does; zero times are left out, as ECS leaves them out.
func setTimes(m map[string]any, times map[string]time.Time) {
	for key, t := range times {
		if !t.IsZero() {
			m[key] = t.UTC().Format(time.RFC3339Nano)
		}
	}
}

// desiredStatus is the task's desired status as ECS reports it.
func desiredStatus(rec record) string {
	if rec.Status.StopCode != "" || rec.Status.Status == node.StatusStopping ||
		rec.Status.Status == node.StatusDeprovisioning || rec.Status.Status == node.StatusStopped {
		return node.StatusStopped
	}
	return node.StatusRunning
}

func (a *Agent) containerMetadata(rec record, name string) map[string]any {
	spec, st := rec.containerSpec(name), rec.container(name)
	m := map[string]any{
		"DockerId":      st.RuntimeID,
		"Name":          name,
		"DockerName":    st.RuntimeID,
		"Image":         spec.Image,
		"ImageID":       st.ImageDigest,
		"Labels":        containerLabels(rec.Spec, spec),
		"DesiredStatus": desiredStatus(rec),
		"KnownStatus":   st.Status,
		"Limits":        map[string]any{"CPU": spec.CPU, "Memory": spec.MemoryMB},
		"Type":          "NORMAL",
		"Networks":      a.networks(rec),
	}
	setTimes(m, map[string]time.Time{"CreatedAt": st.StartedAt, "StartedAt": st.StartedAt, "FinishedAt": st.FinishedAt})
	if st.ExitCode != nil {
		m["ExitCode"] = *st.ExitCode
	}
	if st.HealthStatus != "" {
		m["Health"] = map[string]any{"status": st.HealthStatus}
	}
	if spec.Log.Driver != "" {
		m["LogDriver"], m["LogOptions"] = spec.Log.Driver, spec.Log.Options
	}
	if len(st.NetworkBindings) > 0 {
		var ports []map[string]any
		for _, b := range st.NetworkBindings {
			ports = append(ports, map[string]any{"ContainerPort": b.ContainerPort, "HostPort": b.HostPort, "Protocol": b.Protocol, "HostIp": b.BindIP})
		}
		m["Ports"] = ports
	}
	return m
}

func (a *Agent) networks(rec record) []map[string]any {
	n := map[string]any{"NetworkMode": rec.Spec.NetworkMode}
	if ip := rec.Status.PrivateIPv4; ip != "" {
		n["IPv4Addresses"] = []string{ip}
		n["AttachmentIndex"] = 0
		n["MACAddress"] = rec.Status.MACAddress
		n["IPv4SubnetCIDRBlock"] = a.cfg.Network.Subnet()
		n["SubnetGatewayIpv4Address"] = a.cfg.Network.BridgeIP() + "/" + strings.SplitN(a.cfg.Network.Subnet(), "/", 2)[1]
		n["PrivateDNSName"] = "ip-" + strings.ReplaceAll(ip, ".", "-")
	}
	return []map[string]any{n}
}

func (a *Agent) taskMetadata(rec record) map[string]any {
	var containers []map[string]any
	for _, c := range rec.Spec.Containers {
		containers = append(containers, a.containerMetadata(rec, c.Name))
	}
	limits := map[string]any{}
	if rec.Spec.CPU > 0 {
		limits["CPU"] = float64(rec.Spec.CPU) / 1024
	}
	if rec.Spec.MemoryMB > 0 {
		limits["Memory"] = rec.Spec.MemoryMB
	}
	m := map[string]any{
		"Cluster":          rec.Spec.ClusterARN,
		"TaskARN":          rec.Spec.TaskARN,
		"Family":           rec.Spec.Family,
		"Revision":         strconv.Itoa(rec.Spec.Revision),
		"DesiredStatus":    desiredStatus(rec),
		"KnownStatus":      rec.Status.Status,
		"Limits":           limits,
		"AvailabilityZone": rec.Spec.AvailabilityZone,
		"LaunchType":       rec.Spec.LaunchType,
		"TaskTags":         rec.Spec.Labels,
		"Containers":       containers,
	}
	setTimes(m, map[string]time.Time{"PullStartedAt": rec.Status.PullStartedAt, "PullStoppedAt": rec.Status.PullStoppedAt,
		"ExecutionStoppedAt": rec.Status.ExecutionStoppedAt})
	return m
}

// cpuReading is one CPU sample, kept so the next stats response can carry
// it as precpu_stats (clients compute CPU percent from the difference).
type cpuReading struct {
	Read       time.Time
	UsageNanos uint64
	SystemNano uint64
}

// dockerStats is a container's stats in the shape of Docker's stats API,
// which the v3/v4 stats endpoints return.
func (a *Agent) dockerStats(ctx context.Context, rec record, name string) (map[string]any, error) {
	if rec.container(name).Status != node.StatusRunning {
		return nil, errors.New("container is not running")
	}
	s, err := a.sampleContainer(ctx, rec.Spec.TaskID, name)
	if err != nil {
		return nil, err
	}
	id := containerID(rec.Spec.TaskID, name)
	now := cpuReading{Read: s.Read, UsageNanos: s.CPUUsageNanos, SystemNano: systemCPUNanos()}
	a.mu.Lock()
	prev := a.lastCPU[id]
	a.lastCPU[id] = now
	a.mu.Unlock()
	cpuStats := func(r cpuReading) map[string]any {
		return map[string]any{
			"cpu_usage":        map[string]any{"total_usage": r.UsageNanos},
			"system_cpu_usage": r.SystemNano,
			"online_cpus":      runtime.NumCPU(),
		}
	}
	out := map[string]any{
		"read":         s.Read.Format(time.RFC3339Nano),
		"name":         name,
		"id":           id,
		"cpu_stats":    cpuStats(now),
		"precpu_stats": cpuStats(prev),
		"memory_stats": map[string]any{"usage": s.MemoryUsageBytes, "max_usage": s.MemoryMaxBytes, "limit": s.MemoryLimitBytes},
		"networks": map[string]any{
			"eth0": map[string]any{"rx_bytes": s.NetworkRxBytes, "tx_bytes": s.NetworkTxBytes},
		},
	}
	if !prev.Read.IsZero() {
		out["preread"] = prev.Read.Format(time.RFC3339Nano)
	}
	return out, nil
}

func (a *Agent) taskDockerStats(ctx context.Context, rec record) (map[string]any, error) {
	out := map[string]any{}
	for _, c := range rec.Status.Containers {
		if c.Status != node.StatusRunning {
			out[c.RuntimeID] = nil
			continue
		}
		s, err := a.dockerStats(ctx, rec, c.Name)
		if err != nil {
			return nil, err
		}
		out[c.RuntimeID] = s
	}
	return out, nil
}

// systemCPUNanos is the host's total CPU time (Docker's system_cpu_usage),
// from the first line of /proc/stat in clock ticks of 10ms.
func systemCPUNanos() uint64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 4096))
	line, _, _ := strings.Cut(string(b), "\n")
	var total uint64
	for _, field := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseUint(field, 10, 64)
		total += v
	}
	return total * uint64(10*time.Millisecond)
}
