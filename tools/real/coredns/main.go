// CoreDNS with only the plugins a cluster's kube-dns uses (issue 21, tools/real/REAL-PODS.md): the upstream
// main.go imports every plugin (cloud DNS providers included, hundreds of modules); this one imports the few
// a kubeadm/Talos Corefile names (metrics is its `prometheus :9153`) (plus template, which answers names outside the cluster where there is no
// upstream to forward to) and sets the directive order to upstream's plugin.cfg order for those.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/template"
)

// The same relative order as upstream's plugin.cfg (core/dnsserver/zdirectives.go), for these plugins only.
var directives = []string{"reload", "ready", "health", "prometheus", "errors", "log", "loadbalance", "cache", "template", "hosts", "kubernetes", "loop", "forward"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
