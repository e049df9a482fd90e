import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CALICO_CHART, CILIUM_CHART, FLANNEL_CHART, FLUENT_BIT_CHART, KUBE_PROMETHEUS_STACK_CHART, VICTORIA_METRICS_CHART } from '../../src/addons/charts.js';
import { FLANNEL_NETPOL_WARNING, TALOS_CILIUM_AGENT_CAPABILITIES, buildCiliumValues, buildCniPlan, type Values } from '../../src/addons/cni.js';
import { mirrorImage, splitImageRegistry } from '../../src/addons/images.js';
import { buildMonitoringReleases } from '../../src/addons/monitoring.js';
import { buildAddonSpec } from './spec.js';

const schema = JSON.parse(readFileSync(new URL('../fixtures/addons/cilium-values.schema.json', import.meta.url), 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true });
const validateCilium = ajv.compile(schema);

const UPSTREAM_HOSTS = ['quay.io', 'docker.io', 'ghcr.io', 'registry.k8s.io', 'cr.fluentbit.io'];

/** Every string in the values that names an image, its repository or a registry. */
function imageStrings(v: unknown, key = ''): string[] {
  if (typeof v === 'string') return /^(image|repository|registry|imageRegistry)$/.test(key) ? [v] : [];
  if (Array.isArray(v)) return v.flatMap((x) => imageStrings(x, key));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => imageStrings(x, k));
  return [];
}

describe('images', () => {
  it.each([
    ['quay.io/cilium/cilium', 'mirror.local:5000', 'mirror.local:5000/cilium/cilium'],
    ['docker.io/library/busybox', 'mirror.local:5000/', 'mirror.local:5000/library/busybox'],
    ['busybox', 'reg.example', 'reg.example/library/busybox'],
    ['flannel/flannel', 'reg.example', 'reg.example/flannel/flannel'],
    ['localhost/x/y', 'reg.example/sub', 'reg.example/sub/x/y'],
    ['quay.io/cilium/cilium', '', 'quay.io/cilium/cilium'],
  ])('mirrorImage(%s, %s)', (ref, mirror, want) => {
    expect(mirrorImage(mirror, ref)).toBe(want);
  });

  it('keeps the path of any reference and changes only the registry', () => {
    const seg = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/);
    fc.assert(
      fc.property(fc.constantFrom(...UPSTREAM_HOSTS), fc.array(seg, { minLength: 1, maxLength: 3 }), fc.constantFrom('m.local:5000', 'mirror.example/org'), (host, parts, mirror) => {
        const ref = `${host}/${parts.join('/')}`;
        const out = mirrorImage(mirror, ref);
        expect(out.startsWith(`${mirror}/`)).toBe(true);
        expect(out.endsWith(`/${splitImageRegistry(ref).path}`)).toBe(true);
        expect(out).not.toContain(host === 'docker.io' ? 'docker.io' : host);
      }),
    );
  });
});

describe('CNI values per CNI x bootstrap method', () => {
  it.each([
    {
      name: 'cilium on kubeadm, kube-proxy replaced: API server from spec.endpoint',
      spec: buildAddonSpec({ method: 'kubeadm', cni: 'cilium', endpoint: 'https://127.0.10.50:6443' }),
      chart: CILIUM_CHART,
      ds: 'kube-system/cilium',
      expected: {
        ipam: { mode: 'cluster-pool', operator: { clusterPoolIPv4PodCIDRList: ['10.244.0.0/16'], clusterPoolIPv4MaskSize: 24 } },
        kubeProxyReplacement: true,
        k8sServiceHost: '127.0.10.50',
        k8sServicePort: 6443,
      },
      absent: ['securityContext', 'cgroup'],
    },
    {
      name: 'cilium on talos: KubePrism and the Talos capabilities/cgroup settings',
      spec: buildAddonSpec({ method: 'talos', cni: 'cilium', podCIDR: '10.42.0.0/16', nodeMaskSize: 25 }),
      chart: CILIUM_CHART,
      ds: 'kube-system/cilium',
      expected: {
        ipam: { mode: 'cluster-pool', operator: { clusterPoolIPv4PodCIDRList: ['10.42.0.0/16'], clusterPoolIPv4MaskSize: 25 } },
        kubeProxyReplacement: true,
        k8sServiceHost: 'localhost',
        k8sServicePort: 7445,
        securityContext: {
          capabilities: {
            ciliumAgent: ['CHOWN', 'KILL', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'SYS_ADMIN', 'SYS_RESOURCE', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'],
            cleanCiliumState: ['NET_ADMIN', 'SYS_ADMIN', 'SYS_RESOURCE'],
          },
        },
        cgroup: { autoMount: { enabled: false }, hostRoot: '/sys/fs/cgroup' },
      },
      absent: [],
    },
    {
      name: 'cilium on kubeadm beside kube-proxy: no API server override',
      spec: buildAddonSpec({ method: 'kubeadm', cni: 'cilium', kubeProxyReplacement: false }),
      chart: CILIUM_CHART,
      ds: 'kube-system/cilium',
      expected: { kubeProxyReplacement: false },
      absent: ['k8sServiceHost', 'k8sServicePort'],
    },
    {
      name: 'cilium dual-stack: both pools, IPv6 mask from Cilium defaults',
      spec: buildAddonSpec({ method: 'kubeadm', cni: 'cilium', podCIDR: '10.244.0.0/16,fd00:10:244::/56' }),
      chart: CILIUM_CHART,
      ds: 'kube-system/cilium',
      expected: {
        ipv6: { enabled: true },
        ipam: { operator: { clusterPoolIPv4PodCIDRList: ['10.244.0.0/16'], clusterPoolIPv6PodCIDRList: ['fd00:10:244::/56'], clusterPoolIPv6MaskSize: 120 } },
      },
      absent: [],
    },
    {
      name: 'calico on kubeadm: one VXLAN pool, block size from the node mask',
      spec: buildAddonSpec({ method: 'kubeadm', cni: 'calico', podCIDR: '192.168.0.0/16', nodeMaskSize: 26 }),
      chart: CALICO_CHART,
      ds: 'calico-system/calico-node',
      expected: {
        installation: {
          enabled: true,
          calicoNetwork: { bgp: 'Disabled', ipPools: [{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', blockSize: 26, encapsulation: 'VXLAN', natOutgoing: 'Enabled', nodeSelector: 'all()' }] },
        },
      },
      absent: ['tigeraOperator'],
    },
    {
      name: 'calico on talos: no FlexVolume driver on the read-only /usr',
      spec: buildAddonSpec({ method: 'talos', cni: 'calico' }),
      chart: CALICO_CHART,
      ds: 'calico-system/calico-node',
      expected: { installation: { flexVolumePath: 'None', calicoNetwork: { ipPools: [{ cidr: '10.244.0.0/16', blockSize: 24 }] } } },
      absent: [],
    },
    {
      name: 'flannel on kubeadm through helm',
      spec: buildAddonSpec({ method: 'kubeadm', cni: 'flannel', podCIDR: '10.200.0.0/16' }),
      chart: FLANNEL_CHART,
      ds: 'kube-flannel/kube-flannel-ds',
      expected: { podCidr: '10.200.0.0/16', podCidrv6: '', flannel: { backend: 'vxlan' } },
      absent: [],
    },
  ])('$name', ({ spec, chart, ds, expected, absent }) => {
    const plan = buildCniPlan(spec)!;
    expect(plan.release?.chart).toEqual(chart);
    expect(`${plan.daemonSet.namespace}/${plan.daemonSet.name}`).toBe(ds);
    expect(plan.release!.values).toMatchObject(expected);
    for (const key of absent) expect(plan.release!.values).not.toHaveProperty(key);
    if (chart === CILIUM_CHART) expect(validateCilium(plan.release!.values), JSON.stringify(validateCilium.errors)).toBe(true);
  });

  it('flannel on talos: Talos deploys it, groundwork only waits, and the plan warns about NetworkPolicy', () => {
    const plan = buildCniPlan(buildAddonSpec({ method: 'talos', cni: 'flannel' }))!;
    expect(plan.release).toBeUndefined();
    expect(plan.daemonSet).toEqual({ namespace: 'kube-system', name: 'kube-flannel' });
    expect(plan.notes).toContain(FLANNEL_NETPOL_WARNING);
  });

  it('flannel on kubeadm warns that NetworkPolicy is not enforced', () => {
    expect(buildCniPlan(buildAddonSpec({ cni: 'flannel' }))!.notes.join('\n')).toMatch(/does not enforce NetworkPolicy/);
  });

  it('cni none has no plan', () => {
    expect(buildCniPlan(buildAddonSpec({ cni: 'none' }))).toBeUndefined();
  });

  it('Talos capabilities drop SYS_MODULE (Talos forbids loading kernel modules)', () => {
    expect(TALOS_CILIUM_AGENT_CAPABILITIES).not.toContain('SYS_MODULE');
  });

  it('the vendored schema rejects a wrongly typed value (the check can fail)', () => {
    const bad = { ...buildCiliumValues(buildAddonSpec()), ipam: { operator: { clusterPoolIPv4MaskSize: '24' } }, kubeProxyReplacement: 3 };
    expect(validateCilium(bad)).toBe(false);
  });

  it('every generated Cilium values object validates against the chart schema', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('talos', 'kubeadm') as fc.Arbitrary<'talos' | 'kubeadm'>,
        fc.boolean(),
        fc.constantFrom('', 'mirror.local:5000', 'reg.example/mirror'),
        fc.integer({ min: 16, max: 28 }),
        (method, kpr, registry, mask) => {
          const v = buildCiliumValues(buildAddonSpec({ method, kubeProxyReplacement: kpr, registry, nodeMaskSize: mask }));
          expect(validateCilium(v), JSON.stringify(validateCilium.errors)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('the image mirror reaches every image', () => {
  const mirror = 'mirror.local:5000';
  const cases = [
    ...(['talos', 'kubeadm'] as const).flatMap((method) => (['cilium', 'calico', 'flannel'] as const).map((cni) => ({ method, cni }))),
  ];
  it.each(cases)('$cni on $method', ({ method, cni }) => {
    const plan = buildCniPlan(buildAddonSpec({ method, cni, registry: mirror }))!;
    if (!plan.release) return expect(method === 'talos' && cni === 'flannel').toBe(true);
    const images = imageStrings(plan.release.values);
    expect(images.length).toBeGreaterThan(0);
    for (const s of images) {
      expect(s.startsWith(mirror), s).toBe(true);
      for (const h of UPSTREAM_HOSTS) expect(s).not.toContain(h);
    }
  });

  it('cilium: every image block is pulled by tag from the mirror', () => {
    const v = buildCiliumValues(buildAddonSpec({ registry: mirror })) as Values & { image: Values; operator: { image: Values } };
    expect(v.image).toEqual({ repository: `${mirror}/cilium/cilium`, useDigest: false });
    expect(v.operator.image).toEqual({ repository: `${mirror}/cilium/operator`, useDigest: false });
  });

  it.each(['kube-prometheus-stack', 'victoria-metrics'] as const)('monitoring %s + fluent-bit', (monitoring) => {
    const releases = buildMonitoringReleases(buildAddonSpec({ registry: `${mirror}/`, addons: { monitoring, logging: 'fluent-bit' } }));
    expect(releases).toHaveLength(2);
    for (const r of releases) {
      const images = imageStrings(r.values);
      expect(images.length, r.chart.chart).toBeGreaterThan(0);
      for (const s of images) expect(s.startsWith(mirror), s).toBe(true);
    }
  });

  it('no mirror: the charts keep their own images', () => {
    for (const r of buildMonitoringReleases(buildAddonSpec({ addons: { monitoring: 'kube-prometheus-stack' } }))) expect(imageStrings(r.values)).toEqual([]);
    expect(imageStrings(buildCiliumValues(buildAddonSpec()))).toEqual([]);
  });
});

describe('monitoring values', () => {
  it.each([
    {
      name: 'kube-prometheus-stack with retention and storage class',
      addons: { monitoring: 'kube-prometheus-stack' as const, logging: 'none' as const, retention: '30d', storageClass: 'fast-ssd' },
      chart: KUBE_PROMETHEUS_STACK_CHART,
      expected: {
        prometheus: { prometheusSpec: { retention: '30d', storageSpec: { volumeClaimTemplate: { spec: { storageClassName: 'fast-ssd', resources: { requests: { storage: '50Gi' } } } } }, resources: { requests: { memory: '2Gi' } } } },
        grafana: { enabled: true, persistence: { enabled: true, storageClassName: 'fast-ssd' } },
      },
    },
    {
      name: 'victoria-metrics with the default storage class',
      addons: { monitoring: 'victoria-metrics' as const, logging: 'none' as const, retention: '2w' },
      chart: VICTORIA_METRICS_CHART,
      expected: { vmsingle: { spec: { retentionPeriod: '2w', storage: { resources: { requests: { storage: '50Gi' } } } } }, grafana: { enabled: true } },
    },
  ])('$name', ({ addons, chart, expected }) => {
    const [r, ...rest] = buildMonitoringReleases(buildAddonSpec({ addons }));
    expect(rest).toEqual([]);
    expect(r!.chart).toBe(chart);
    expect(r!.values).toMatchObject(expected);
    if (!('storageClass' in addons)) expect(JSON.stringify(r!.values)).not.toContain('storageClassName');
  });

  it('fluent-bit alone, tolerating every taint so control-plane logs are collected', () => {
    const releases = buildMonitoringReleases(buildAddonSpec({ addons: { monitoring: 'none', logging: 'fluent-bit' } }));
    expect(releases.map((r) => r.chart)).toEqual([FLUENT_BIT_CHART]);
    expect(releases[0]!.values).toMatchObject({ tolerations: [{ operator: 'Exists' }], resources: { limits: { memory: '256Mi' } } });
  });

  it('nothing when both are none', () => {
    expect(buildMonitoringReleases(buildAddonSpec({ addons: { monitoring: 'none', logging: 'none' } }))).toEqual([]);
  });
});

describe('Fluent Bit outputs from spec.addons.logDestination', () => {
  it.each([
    ['stdout', '[OUTPUT]\n    Name stdout\n    Match *\n    Format json_lines\n'],
    [{ type: 'loki', url: 'http://loki.logging:3100' }, '[OUTPUT]\n    Name loki\n    Match *\n    Host loki.logging\n    Port 3100\n    tls Off\n    Labels job=fluent-bit\n    Auto_Kubernetes_Labels On\n    Retry_Limit 5\n'],
    [{ type: 'elasticsearch', url: 'https://es.example.test/es' }, '[OUTPUT]\n    Name es\n    Match *\n    Host es.example.test\n    Port 9200\n    tls On\n    Path /es\n    Logstash_Format On\n    Suppress_Type_Name On\n    Replace_Dots On\n    Retry_Limit 5\n'],
    [{ type: 'http', url: 'https://collector.example.test/v1/logs' }, '[OUTPUT]\n    Name http\n    Match *\n    Host collector.example.test\n    Port 443\n    tls On\n    Uri /v1/logs\n    Format json\n    Retry_Limit 5\n'],
    [{ type: 'forward', url: 'tls://[fd00::5]:24224' }, '[OUTPUT]\n    Name forward\n    Match *\n    Host fd00::5\n    Port 24224\n    tls On\n    Retry_Limit 5\n'],
  ] as const)('%j', (logDestination, want) => {
    const spec = buildAddonSpec({ addons: { logging: 'fluent-bit', logDestination } });
    const values = buildMonitoringReleases(spec).find((r) => r.chart === FLUENT_BIT_CHART)!.values as { config: { inputs: string; outputs: string } };
    expect(values.config.outputs).toBe(want);
    expect(values.config.outputs).not.toContain('elasticsearch-master');
  });

  it('reads container logs without its own; the kubelet journal only where there is one (kubeadm, not Talos)', () => {
    const inputs = (method: 'talos' | 'kubeadm') => (buildMonitoringReleases(buildAddonSpec({ method })).find((r) => r.chart === FLUENT_BIT_CHART)!.values as { config: { inputs: string } }).config.inputs;
    expect(inputs('talos')).toContain('Exclude_Path /var/log/containers/fluent-bit-*_logging_*.log');
    expect(inputs('talos')).not.toContain('systemd');
    expect(inputs('kubeadm')).toContain('Name systemd');
  });
});
