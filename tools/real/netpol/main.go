// kube-router-netpol: kube-router's NetworkPolicy controller alone, one per real node of the real-pods lab (issue 21,
// tools/real/REAL-PODS.md). It links github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol as a library
// (as k3s does) and nothing of kube-router's service proxy or BGP routing: those packages are not in this binary.
// It programs iptables (filter table: KUBE-ROUTER-{INPUT,FORWARD,OUTPUT}, per-pod and per-policy chains) and ipsets
// in the network namespace it runs in, for the pods of one node (the Node named by --node-name: its InternalIP is
// what it compares with each pod's status.hostIP).
//
//	kube-router-netpol --kubeconfig FILE --node-name NAME --service-cluster-ip-range 10.96.0.0/12 [--node-port-range 30000-32767]
//	  [--sync-period 5m] [--node-wait 2m] [--v N]
//
// Needs list/watch on pods, namespaces and networking.k8s.io networkpolicies, and get on nodes. SIGTERM or SIGINT
// stops it; the rules stay (they live and die with the node's network namespace).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol"
	"github.com/cloudnativelabs/kube-router/v2/pkg/healthcheck"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of this controller's own identity (required)")
	nodeName := flag.String("node-name", "", "the Node whose pods this controller guards (required)")
	serviceCIDR := flag.String("service-cluster-ip-range", "10.96.0.0/12", "the cluster's Service CIDR (traffic to it is left to kube-proxy)")
	nodePorts := flag.String("node-port-range", "30000-32767", "the cluster's NodePort range")
	syncPeriod := flag.Duration("sync-period", 5*time.Minute, "full resync of the rules at least this often (changes are applied as they come)")
	nodeWait := flag.Duration("node-wait", 2*time.Minute, "how long to wait for the Node to be registered with an InternalIP")
	klog.InitFlags(flag.CommandLine)
	flag.Parse()
	if *kubeconfig == "" || *nodeName == "" {
		fmt.Fprintln(os.Stderr, "kube-router-netpol: --kubeconfig and --node-name are required")
		os.Exit(2)
	}
	if err := run(*kubeconfig, *nodeName, *serviceCIDR, *nodePorts, *syncPeriod, *nodeWait); err != nil {
		klog.Errorf("kube-router-netpol: %v", err)
		klog.Flush()
		os.Exit(1)
	}
	klog.Flush()
}

func run(kubeconfig, nodeName, serviceCIDR, nodePorts string, syncPeriod, nodeWait time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	restConfig, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	restConfig.UserAgent = "kube-router-netpol/" + nodeName
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return err
	}

	// The controller reads the Node once, at start, for its InternalIP: wait until the kubelet has registered it.
	if err := waitForNode(ctx, client, nodeName, nodeWait); err != nil {
		return err
	}

	cfg := options.NewKubeRouterConfig()
	cfg.HostnameOverride = nodeName
	cfg.ClusterIPCIDRs = []string{serviceCIDR}
	cfg.NodePortRange = nodePorts
	cfg.EnableIPv4 = true
	cfg.EnableIPv6 = false
	cfg.IPTablesSyncPeriod = syncPeriod
	cfg.RunFirewall = true
	cfg.RunRouter = false
	cfg.RunServiceProxy = false
	cfg.MetricsEnabled = false

	factory := informers.NewSharedInformerFactory(client, 0)
	podInformer := factory.Core().V1().Pods().Informer()
	nsInformer := factory.Core().V1().Namespaces().Informer()
	npInformer := factory.Networking().V1().NetworkPolicies().Informer()
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("the %v cache did not sync", typ)
		}
	}

	iptablesHandlers, ipsetHandlers, err := netpol.NewIPTablesHandlers(cfg)
	if err != nil {
		return err
	}
	npc, err := netpol.NewNetworkPolicyController(client, cfg, podInformer, npInformer, nsInformer, &sync.Mutex{}, iptablesHandlers, ipsetHandlers)
	if err != nil {
		return fmt.Errorf("the network policy controller: %w", err)
	}
	for _, h := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{{podInformer, npc.PodEventHandler}, {nsInformer, npc.NamespaceEventHandler}, {npInformer, npc.NetworkPolicyEventHandler}} {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return err
		}
	}

	// The controller reports a heartbeat after each sync on this channel (kube-router's health controller reads it);
	// nobody serves health here, so the beats are only logged.
	health := make(chan *healthcheck.ControllerHeartbeat, 8)
	go func() {
		for b := range health {
			klog.V(4).Infof("heartbeat from %s at %s", b.Component, b.LastHeartBeat.Format(time.RFC3339))
		}
	}()

	var wg sync.WaitGroup
	wg.Add(1)
	klog.Infof("kube-router-netpol: guarding the pods of node %s (services %s)", nodeName, serviceCIDR)
	go npc.Run(health, ctx.Done(), &wg)
	<-ctx.Done()
	klog.Info("kube-router-netpol: stopping")
	wg.Wait()
	return nil
}

func waitForNode(ctx context.Context, client kubernetes.Interface, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, a := range n.Status.Addresses {
				if a.Type == v1.NodeInternalIP && a.Address != "" {
					return nil
				}
			}
			err = fmt.Errorf("node %s has no InternalIP yet", name)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not ready for the controller after %s: %w", name, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
