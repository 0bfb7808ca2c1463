// Command fakecri is the container runtime of the Phalanx test cluster: a CRI
// endpoint for a real kubelet that runs no containers.
//
// It serves the in-memory runtime and image services of the Kubernetes fake
// CRI (k8s.io/cri-client/pkg/fake) on a unix socket, and appends one JSON line
// per pod-sandbox or container call to the --record file, so that tests can
// assert what the kubelet handed to the runtime after the Phalanx DRA plugin
// prepared the devices (CDI device names, env, annotations, device nodes,
// mounts). See hack/README.md for the record format.
//
//	fakecri --listen=/run/phalanx/fakecri.sock --record=/run/phalanx/calls.jsonl
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	kubeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-client/pkg/fake"
	criutil "k8s.io/cri-client/pkg/util"
)

// The fake services remember the name of every call they serve; the kubelet
// polls several times a second, so the history is cut back at this length.
const maxCallHistory = 4096

func main() {
	listen := flag.String("listen", "", "unix socket to serve CRI on (path or unix:// URL), e.g. /run/phalanx/fakecri.sock")
	record := flag.String("record", "", "file to append one JSON line per RunPodSandbox/CreateContainer/StopPodSandbox/RemovePodSandbox call to (optional)")
	cgroupDriver := flag.String("cgroup-driver", "cgroupfs", "cgroup driver reported to the kubelet: cgroupfs or systemd")
	flag.Parse()

	if err := run(*listen, *record, *cgroupDriver); err != nil {
		log.Fatalf("fakecri: %v", err)
	}
}

func run(listen, recordPath, cgroupDriver string) error {
	if listen == "" {
		return errors.New("--listen is required, e.g. --listen=/run/phalanx/fakecri.sock")
	}
	driver, err := parseCgroupDriver(cgroupDriver)
	if err != nil {
		return err
	}
	rec, err := openRecorder(recordPath)
	if err != nil {
		return err
	}
	defer rec.close()

	// The fake's own server is never started: its services are registered on
	// a server of ours that carries the recording interceptor.
	rt := fake.NewFakeRemoteRuntime()
	rt.RuntimeService.FakeLinuxConfiguration = &kubeapi.LinuxRuntimeConfiguration{CgroupDriver: driver}
	// The kubelet rejects images whose size is 0 ("Id or size of image is not set"); every
	// pulled fake image gets a plausible size.
	rt.ImageService.SetFakeImageSize(4 << 20)
	rt.RuntimeService.FakeStatus = &kubeapi.RuntimeStatus{
		Conditions: []*kubeapi.RuntimeCondition{
			{Type: kubeapi.RuntimeReady, Status: true},
			{Type: kubeapi.NetworkReady, Status: true},
		},
	}

	srv := grpc.NewServer(grpc.UnaryInterceptor(rec.intercept(rt)))
	kubeapi.RegisterRuntimeServiceServer(srv, rt)
	kubeapi.RegisterImageServiceServer(srv, rt)

	endpoint := listen
	if !strings.Contains(endpoint, "://") {
		endpoint = "unix://" + endpoint
	}
	lis, err := criutil.CreateListener(endpoint)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", endpoint, err)
	}
	socketPath := strings.TrimPrefix(endpoint, "unix://")

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()
	log.Printf("fakecri: serving CRI on %s (cgroup driver %s, record %q)", endpoint, cgroupDriver, recordPath)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-sigs:
		log.Printf("fakecri: %s, stopping", sig)
		stopWithin(srv, 5*time.Second)
		_ = os.Remove(socketPath)
		return nil
	case err := <-serveErr:
		_ = os.Remove(socketPath)
		return fmt.Errorf("grpc server stopped: %w", err)
	}
}

func parseCgroupDriver(name string) (kubeapi.CgroupDriver, error) {
	switch name {
	case "cgroupfs":
		return kubeapi.CgroupDriver_CGROUPFS, nil
	case "systemd":
		return kubeapi.CgroupDriver_SYSTEMD, nil
	default:
		return 0, fmt.Errorf("--cgroup-driver=%q: use cgroupfs or systemd", name)
	}
}

func stopWithin(srv *grpc.Server, d time.Duration) {
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		srv.Stop()
	}
}

// podRef names the pod a sandbox belongs to.
type podRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
	Attempt   uint32 `json:"attempt"`
}

type deviceRecord struct {
	ContainerPath string `json:"containerPath"`
	HostPath      string `json:"hostPath"`
	Permissions   string `json:"permissions"`
}

type mountRecord struct {
	ContainerPath string `json:"containerPath"`
	HostPath      string `json:"hostPath"`
	Readonly      bool   `json:"readonly"`
}

// callRecord is one line of the --record file. Fields that do not apply to a
// call are left out.
type callRecord struct {
	Time           string            `json:"time"`
	Call           string            `json:"call"`
	Error          string            `json:"error,omitempty"`
	SandboxID      string            `json:"sandboxId,omitempty"`
	Pod            *podRef           `json:"pod,omitempty"`
	RuntimeHandler string            `json:"runtimeHandler,omitempty"`
	Container      string            `json:"container,omitempty"`
	ContainerID    string            `json:"containerId,omitempty"`
	Image          string            `json:"image,omitempty"`
	CDIDevices     []string          `json:"cdiDevices,omitempty"`
	Env            map[string]string `json:"env,omitempty"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Devices        []deviceRecord    `json:"devices,omitempty"`
	Mounts         []mountRecord     `json:"mounts,omitempty"`
}

// recorder appends call records to a file, one JSON object per line, each
// written with a single write so that readers never see half a line.
type recorder struct {
	mu   sync.Mutex
	file *os.File
}

func openRecorder(path string) (*recorder, error) {
	if path == "" {
		return &recorder{}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open --record file: %w", err)
	}
	return &recorder{file: f}, nil
}

func (r *recorder) close() {
	if r.file != nil {
		_ = r.file.Close()
	}
}

func (r *recorder) write(rec *callRecord) {
	if r.file == nil {
		return
	}
	line, err := json.Marshal(rec)
	if err != nil {
		log.Printf("fakecri: cannot encode %s record: %v", rec.Call, err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.file.Write(append(line, '\n')); err != nil {
		log.Printf("fakecri: cannot write %s record: %v", rec.Call, err)
	}
}

// intercept runs every unary CRI call through the fake and records the calls
// that carry what the kubelet asks of the runtime for a pod.
func (r *recorder) intercept(rt *fake.RemoteRuntime) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if rec := describe(req, resp, err); rec != nil {
			log.Printf("fakecri: %s sandbox=%q container=%q cdi=%v", rec.Call, rec.SandboxID, rec.Container, rec.CDIDevices)
			r.write(rec)
		}
		trimHistory(rt)
		return resp, err
	}
}

func trimHistory(rt *fake.RemoteRuntime) {
	rs := rt.RuntimeService
	rs.Lock()
	if len(rs.Called) > maxCallHistory {
		rs.Called = rs.Called[:0]
	}
	rs.Unlock()
	is := rt.ImageService
	is.Lock()
	if len(is.Called) > maxCallHistory {
		is.Called = is.Called[:0]
	}
	is.Unlock()
}

func describe(req, resp any, err error) *callRecord {
	var rec *callRecord
	switch q := req.(type) {
	case *kubeapi.RunPodSandboxRequest:
		rec = sandboxRecord(q)
		if r, ok := resp.(*kubeapi.RunPodSandboxResponse); ok {
			rec.SandboxID = r.GetPodSandboxId()
		}
	case *kubeapi.CreateContainerRequest:
		rec = containerRecord(q)
		if r, ok := resp.(*kubeapi.CreateContainerResponse); ok {
			rec.ContainerID = r.GetContainerId()
		}
	case *kubeapi.StopPodSandboxRequest:
		rec = &callRecord{Call: "StopPodSandbox", SandboxID: q.GetPodSandboxId()}
	case *kubeapi.RemovePodSandboxRequest:
		rec = &callRecord{Call: "RemovePodSandbox", SandboxID: q.GetPodSandboxId()}
	default:
		return nil
	}
	rec.Time = time.Now().UTC().Format(time.RFC3339Nano)
	if err != nil {
		rec.Error = err.Error()
	}
	return rec
}

func podOf(cfg *kubeapi.PodSandboxConfig) *podRef {
	md := cfg.GetMetadata()
	if md == nil {
		return nil
	}
	return &podRef{Name: md.GetName(), Namespace: md.GetNamespace(), UID: md.GetUid(), Attempt: md.GetAttempt()}
}

func sandboxRecord(q *kubeapi.RunPodSandboxRequest) *callRecord {
	cfg := q.GetConfig()
	return &callRecord{
		Call:           "RunPodSandbox",
		Pod:            podOf(cfg),
		RuntimeHandler: q.GetRuntimeHandler(),
		Annotations:    cfg.GetAnnotations(),
		Labels:         cfg.GetLabels(),
	}
}

func containerRecord(q *kubeapi.CreateContainerRequest) *callRecord {
	cfg := q.GetConfig()
	rec := &callRecord{
		Call:        "CreateContainer",
		SandboxID:   q.GetPodSandboxId(),
		Pod:         podOf(q.GetSandboxConfig()),
		Container:   cfg.GetMetadata().GetName(),
		Image:       cfg.GetImage().GetImage(),
		Annotations: cfg.GetAnnotations(),
		Labels:      cfg.GetLabels(),
	}
	for _, d := range cfg.GetCDIDevices() {
		rec.CDIDevices = append(rec.CDIDevices, d.GetName())
	}
	if envs := cfg.GetEnvs(); len(envs) > 0 {
		rec.Env = make(map[string]string, len(envs))
		for _, kv := range envs {
			// string() accepts the value whether the CRI release types it
			// as string or as bytes.
			rec.Env[kv.GetKey()] = string(kv.GetValue())
		}
	}
	for _, d := range cfg.GetDevices() {
		rec.Devices = append(rec.Devices, deviceRecord{
			ContainerPath: d.GetContainerPath(), HostPath: d.GetHostPath(), Permissions: d.GetPermissions(),
		})
	}
	for _, m := range cfg.GetMounts() {
		rec.Mounts = append(rec.Mounts, mountRecord{
			ContainerPath: m.GetContainerPath(), HostPath: m.GetHostPath(), Readonly: m.GetReadonly(),
		})
	}
	return rec
}
