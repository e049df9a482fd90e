import { Option } from 'commander';
import { wholeNumber } from './flags.js';
import { commandContext } from './context.js';
import { MAX_LAB_NODES } from '../lab/store/limits.js';
import { defineCommand, type GlobalOptions } from './types.js';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export default defineCommand((program, io, setExit) => {
  const lab = program.command('lab');
  lab
    .command('up')
    .description('serve a lab cluster on https://127.0.0.1 in the foreground and write its kubeconfig; Ctrl-C stops it')
    .option('--nodes <n>', `number of nodes, control planes included (1-${MAX_LAB_NODES}; default 3, or the nodes of -f cluster.yaml)`, wholeNumber(1, MAX_LAB_NODES, 'nodes'))
    .option('--nodes-real <n>', 'real nodes instead of simulated ones (1-8; needs root, --api real, `bash tools/real/build-node.sh` and `bash tools/real/build-addons.sh`): kubelet, kube-proxy and containerd per node in its own network namespace, real pod IPs, real CoreDNS and local-path storage (validate it with --image-registry groundwork.local)', wholeNumber(1, 8, 'real nodes'))
    .addOption(new Option('--network-policy <impl>', 'with --nodes-real: who enforces NetworkPolicy on the nodes. kube-router: its policy controller on every node (needs ipset); none: nobody, the bridge CNI ignores policies as Flannel does (a policy-blind CNI, for real)').choices(['kube-router', 'none']))
    .option('--control-planes <n>', 'how many of the nodes are control planes (default 1)', wholeNumber(1, MAX_LAB_NODES, 'nodes'))
    .addOption(new Option('--cni <name>', 'the CNI the lab behaves like').choices(['cilium', 'calico', 'flannel', 'none']))
    .option('--fault <name>', 'start with a fault, e.g. dns-down, node-not-ready:w-1, api-latency:200 (repeatable)', collect, [])
    .addOption(new Option('--api <api>', 'real: the real kube-apiserver, kube-controller-manager, kube-scheduler and etcd on loopback (`npm run real-tools` or PATH); embedded: the in-process API. Default real when those programs are there').choices(['real', 'embedded']))
    .option('--etcd <url>', 'embedded API: keep the objects in this etcd (http://127.0.0.1:2379) instead of memory')
    .option('--kubeconfig <path>', 'where to write the kubeconfig (0600)', 'lab.kubeconfig')
    .option('--port <port>', 'embedded API: HTTPS port on 127.0.0.1 (default: a free one)', wholeNumber(0, 65535, 'a TCP port'))
    .addHelpText('after', '\nExample:\n  $ groundwork lab up --nodes 5 --control-planes 3\n  $ kubectl --kubeconfig lab.kubeconfig get nodes\n  $ sudo groundwork lab up --api real --nodes-real 2      # real kubelets and pods on this machine\n  $ sudo groundwork lab up --api real --nodes-real 2 --network-policy none   # ... with NetworkPolicy left unenforced')
    .action(async (o: { api?: 'real' | 'embedded'; nodes?: number; nodesReal?: number; networkPolicy?: 'kube-router' | 'none'; controlPlanes?: number; cni?: 'cilium' | 'calico' | 'flannel' | 'none'; fault: string[]; etcd?: string; kubeconfig: string; port?: number }, cmd) => {
      const ctx = commandContext(cmd, io, { specOptional: true });
      const path = await import('node:path');
      let spec;
      // A spec shapes the lab only when the operator names one with -f.
      if (ctx.fileGiven) {
        const { loadSpec } = await import('../spec/load.js');
        spec = (await loadSpec(ctx.file)).spec;
      }
      const { runLabUp } = await import('../lab/up.js');
      setExit(
        await runLabUp({
          api: o.api,
          nodes: o.nodes,
          nodesReal: o.nodesReal,
          networkPolicy: o.networkPolicy,
          controlPlanes: o.controlPlanes,
          cni: o.cni,
          faults: o.fault,
          etcd: o.etcd,
          kubeconfigPath: path.resolve(io.cwd, o.kubeconfig),
          port: o.port,
          spec,
          json: ctx.json,
          io,
          signal: io.signal,
        }),
      );
    });
  const fault = lab
    .command('fault')
    .description('break a running lab the way real clusters break (or mend it): add, clear or list faults')
    .addHelpText('after', '\nExample:\n  $ groundwork lab fault add node-not-ready:w-1\n  $ groundwork lab fault clear --kubeconfig lab.kubeconfig');
  const report = async (action: 'add' | 'clear' | 'list', name: string | undefined, kubeconfig: string, json: boolean) => {
    const path = await import('node:path');
    const { changeLabFaults } = await import('../lab/faults.js');
    const r = await changeLabFaults(path.resolve(io.cwd, kubeconfig), action, name);
    if (json) io.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      if (r.cleared) io.stdout.write(r.cleared.length > 0 ? `cleared: ${r.cleared.join(', ')}\n` : 'nothing to clear\n');
      io.stdout.write(r.faults.length > 0 ? `active faults: ${r.faults.join(', ')}\n` : 'no active faults\n');
    }
    setExit(0);
  };
  fault
    .command('add <name>')
    .description('switch a fault on, e.g. dns-down, node-not-ready:w-1, api-errors:20')
    .option('--kubeconfig <path>', "the running lab's kubeconfig", 'lab.kubeconfig')
    .action(async (name: string, o: { kubeconfig: string }, cmd) => report('add', name, o.kubeconfig, (cmd.optsWithGlobals() as GlobalOptions).json));
  fault
    .command('clear [name]')
    .description('switch one fault off (all of them without a name)')
    .option('--kubeconfig <path>', "the running lab's kubeconfig", 'lab.kubeconfig')
    .action(async (name: string | undefined, o: { kubeconfig: string }, cmd) => report('clear', name, o.kubeconfig, (cmd.optsWithGlobals() as GlobalOptions).json));
  fault
    .command('list')
    .description('show the active faults')
    .option('--kubeconfig <path>', "the running lab's kubeconfig", 'lab.kubeconfig')
    .action(async (o: { kubeconfig: string }, cmd) => report('list', undefined, o.kubeconfig, (cmd.optsWithGlobals() as GlobalOptions).json));
});
