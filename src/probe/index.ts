/**
 * The probe vocabulary (DESIGN.md): the small, real commands validation pods run, how to build a container
 * command for each, how to recognise one in a pod spec, and how to read what it printed.
 *
 * validate/ builds pods with `buildProbeContainer`; a real cluster runs them in the agnhost image (which ships
 * sh, nc, nslookup, curl and sha256sum); the lab's kubelet recognises them with `parseProbe` and prints the same
 * `GW-PROBE ...` lines. Neither side knows the other: this module is the whole contract.
 *
 * Why `sh -c` with a fixed script: a container command is the cluster's business, not a process we spawn, and
 * a real `nc`/`nslookup` prints nothing comparable across images. Each kind has ONE constant script; every
 * operator value (host, path, content) travels as a positional parameter ($1, $2...) and is never interpolated
 * into the script, so no value can change what runs. parseProbe only accepts the exact constant scripts.
 */
import { createHash } from 'node:crypto';

export const PROBE_TAG = 'GW-PROBE';
/** argv[0] seen by the script ($0); also how parseProbe tells our scripts from anyone else's. */
export const PROBE_ARG0 = 'gw-probe';
export const DEFAULT_PROBE_IMAGE = 'registry.k8s.io/e2e-test-images/agnhost:2.53';
export const DEFAULT_TIMEOUT_S = 2;

export type Probe =
  /**
   * TCP connect to host:port (pod IP, ClusterIP or DNS name); with protocol UDP a datagram (`nc -z -u`).
   * `attempts` (TCP, 2 or more): tried up to that many times a second apart, ok at the first that connects — for a
   * Service, whose rules kube-proxy programs a moment after its endpoints are ready. A probe that must be refused
   * (NetworkPolicy's denied connections) keeps one attempt.
   */
  | { kind: 'connect'; host: string; port: number; timeoutS: number; protocol?: 'UDP'; attempts?: number }
  /** DNS name -> IPv4 address. */
  | { kind: 'resolve'; name: string; timeoutS: number }
  /** HTTP GET; ok on any 2xx/3xx. */
  | { kind: 'http-get'; url: string; timeoutS: number }
  /** Listen on a TCP port (HTTP on it too) until deleted: a server pod. */
  | { kind: 'serve'; port: number }
  /** Write `content` to `path` (on a volume) and print its sha256. */
  | { kind: 'write-file'; path: string; content: string }
  /** Read `path` and compare its sha256 with `sha256`. */
  | { kind: 'read-file'; path: string; sha256: string }
  /** Sleep `seconds`, then exit 0; seconds undefined = run until deleted. */
  | { kind: 'sleep'; seconds?: number }
  /** Exit with `code` at once. */
  | { kind: 'exit'; code: number };

export type ProbeKind = Probe['kind'];
export const PROBE_KINDS: readonly ProbeKind[] = ['connect', 'resolve', 'http-get', 'serve', 'write-file', 'read-file', 'sleep', 'exit'];

// The scripts. $0 is PROBE_ARG0; operator values only ever appear as "$1".."$3".
const SCRIPTS = {
  connect:
    'if nc -z -w "$3" "$1" "$2"; then echo "GW-PROBE connect $1:$2 ok"; else echo "GW-PROBE connect $1:$2 fail"; exit 1; fi',
  'connect-retry':
    'n=1; until nc -z -w "$3" "$1" "$2"; do if [ "$n" -ge "$4" ]; then echo "GW-PROBE connect $1:$2 fail"; exit 1; fi; n=$((n+1)); sleep 1; done; ' +
    'echo "GW-PROBE connect $1:$2 ok"',
  resolve:
    'ip=$(nslookup -timeout="$2" "$1" 2>/dev/null | awk \'/^Address: /{a=$2} END{print a}\'); ' +
    'if [ -n "$ip" ]; then echo "GW-PROBE resolve $1 ok $ip"; else echo "GW-PROBE resolve $1 fail"; exit 1; fi',
  'http-get':
    'code=$(curl -sS -o /dev/null -m "$2" -w "%{http_code}" "$1"); ' +
    'case "$code" in 2*|3*) echo "GW-PROBE http-get $1 ok $code";; *) echo "GW-PROBE http-get $1 fail $code"; exit 1;; esac',
  'write-file':
    'printf "%s" "$2" > "$1" && sum=$(sha256sum "$1" | cut -d" " -f1) && echo "GW-PROBE write-file $1 ok sha256=$sum" ' +
    '|| { echo "GW-PROBE write-file $1 fail"; exit 1; }',
  'read-file':
    'sum=$(sha256sum "$1" 2>/dev/null | cut -d" " -f1); ' +
    'if [ "$sum" = "$2" ]; then echo "GW-PROBE read-file $1 ok sha256=$sum"; else echo "GW-PROBE read-file $1 fail sha256=${sum:-missing}"; exit 1; fi',
  exit: 'echo "GW-PROBE exit $1"; exit "$1"',
} as const;

const SCRIPT_KIND = new Map<string, keyof typeof SCRIPTS>(Object.entries(SCRIPTS).map(([k, v]) => [v, k as keyof typeof SCRIPTS]));

/** The container command (argv) that runs `probe` in the probe image. */
export function buildProbe(probe: Probe): string[] {
  switch (probe.kind) {
    case 'connect':
      if (probe.protocol === 'UDP') return ['nc', '-z', '-u', '-w', String(probe.timeoutS), probe.host, String(probe.port)];
      if ((probe.attempts ?? 1) > 1) return ['sh', '-c', SCRIPTS['connect-retry'], PROBE_ARG0, probe.host, String(probe.port), String(probe.timeoutS), String(probe.attempts)];
      return ['sh', '-c', SCRIPTS.connect, PROBE_ARG0, probe.host, String(probe.port), String(probe.timeoutS)];
    case 'resolve':
      return ['sh', '-c', SCRIPTS.resolve, PROBE_ARG0, probe.name, String(probe.timeoutS)];
    case 'http-get':
      return ['sh', '-c', SCRIPTS['http-get'], PROBE_ARG0, probe.url, String(probe.timeoutS)];
    case 'serve':
      // agnhost netexec answers HTTP (and plain TCP connects) on the port. Its UDP server is off: it binds 8081 by
      // default, so a second server container in the same pod (netpol's trap port) exited "address already in use".
      return ['/agnhost', 'netexec', `--http-port=${probe.port}`, '--udp-port=-1'];
    case 'write-file':
      return ['sh', '-c', SCRIPTS['write-file'], PROBE_ARG0, probe.path, probe.content];
    case 'read-file':
      return ['sh', '-c', SCRIPTS['read-file'], PROBE_ARG0, probe.path, probe.sha256];
    case 'sleep':
      return probe.seconds === undefined ? ['/agnhost', 'pause'] : ['sleep', String(probe.seconds)];
    case 'exit':
      return ['sh', '-c', SCRIPTS.exit, PROBE_ARG0, String(probe.code)];
  }
}

function toPort(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

function toSeconds(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
}

function splitHostPort(hp: string): { host: string; port: number } | undefined {
  const i = hp.lastIndexOf(':');
  if (i <= 0) return undefined;
  const port = toPort(hp.slice(i + 1));
  const host = hp.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return port === undefined || host === '' ? undefined : { host, port };
}

/**
 * The probe a container command means, or undefined for any other command (which the lab runs like a server).
 * `command` and `args` are joined as a container runtime would. Besides our own scripts it reads the plain forms
 * people type: `nc -z [-w N] host port`, `/agnhost connect host:port [--timeout=2s]`, `/agnhost netexec
 * --http-port=P`, `/agnhost serve-hostname [--port P]`, `sleep N|infinity`, `/agnhost pause`, `true`, `false`.
 */
export function parseProbe(command: readonly string[] | undefined, args: readonly string[] = []): Probe | undefined {
  const argv = [...(command ?? []), ...args];
  if (argv.length === 0) return undefined;
  const [a0, a1, a2] = argv;
  const bin = a0!.split('/').pop()!;

  if ((bin === 'sh' || bin === 'bash' || bin === 'ash') && a1 === '-c' && a2 !== undefined && argv[3] === PROBE_ARG0) {
    const kind = SCRIPT_KIND.get(a2);
    const p = argv.slice(4);
    switch (kind) {
      case 'connect': {
        const port = toPort(p[1]);
        const timeoutS = toSeconds(p[2]);
        return p[0] && port !== undefined && timeoutS !== undefined ? { kind, host: p[0], port, timeoutS } : undefined;
      }
      case 'connect-retry': {
        const port = toPort(p[1]);
        const timeoutS = toSeconds(p[2]);
        const attempts = p[3] !== undefined && /^\d{1,2}$/.test(p[3]) ? Number(p[3]) : undefined;
        return p[0] && port !== undefined && timeoutS !== undefined && attempts !== undefined && attempts > 1 ? { kind: 'connect', host: p[0], port, timeoutS, attempts } : undefined;
      }
      case 'resolve': {
        const timeoutS = toSeconds(p[1]);
        return p[0] && timeoutS !== undefined ? { kind, name: p[0], timeoutS } : undefined;
      }
      case 'http-get': {
        const timeoutS = toSeconds(p[1]);
        return p[0] && timeoutS !== undefined ? { kind, url: p[0], timeoutS } : undefined;
      }
      case 'write-file':
        return p[0] && p[1] !== undefined ? { kind, path: p[0], content: p[1] } : undefined;
      case 'read-file':
        return p[0] && p[1] !== undefined ? { kind, path: p[0], sha256: p[1] } : undefined;
      case 'exit': {
        const code = p[0] !== undefined && /^\d{1,3}$/.test(p[0]) ? Number(p[0]) : undefined;
        return code !== undefined && code <= 255 ? { kind, code } : undefined;
      }
      default:
        return undefined;
    }
  }
  if (bin === 'nc' && ['-z', '-zu', '-uz'].some((f) => argv.includes(f))) {
    const rest = argv.slice(1);
    let timeoutS = DEFAULT_TIMEOUT_S;
    let udp = false;
    const positional: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      const t = rest[i]!;
      if (t === '-w') timeoutS = toSeconds(rest[++i]) ?? timeoutS;
      else if (t === '-u' || t === '-zu' || t === '-uz') udp = true; // UDP, not TCP
      else if (!t.startsWith('-')) positional.push(t);
    }
    const port = toPort(positional[1]);
    if (positional.length !== 2 || port === undefined) return undefined;
    return { kind: 'connect', host: positional[0]!, port, timeoutS, ...(udp ? { protocol: 'UDP' as const } : {}) };
  }
  if (bin === 'agnhost') {
    const flag = (name: string): string | undefined => {
      for (let i = 2; i < argv.length; i++) {
        const t = argv[i]!;
        if (t.startsWith(`--${name}=`)) return t.slice(name.length + 3);
        if (t === `--${name}`) return argv[i + 1];
      }
      return undefined;
    };
    if (a1 === 'connect' && a2) {
      const hp = splitHostPort(a2);
      return hp ? { kind: 'connect', ...hp, timeoutS: toSeconds(flag('timeout')) ?? DEFAULT_TIMEOUT_S } : undefined;
    }
    if (a1 === 'netexec') return { kind: 'serve', port: toPort(flag('http-port')) ?? 8080 };
    if (a1 === 'serve-hostname') return { kind: 'serve', port: toPort(flag('port')) ?? 9376 };
    if (a1 === 'pause') return { kind: 'sleep' };
    return undefined;
  }
  if (bin === 'sleep' && argv.length === 2) {
    if (a1 === 'infinity') return { kind: 'sleep' };
    const s = toSeconds(a1);
    return s === undefined ? undefined : { kind: 'sleep', seconds: s };
  }
  if (bin === 'true' && argv.length === 1) return { kind: 'exit', code: 0 };
  if (bin === 'false' && argv.length === 1) return { kind: 'exit', code: 1 };
  return undefined;
}

/** The target a probe's log line names: host:port, name, url, path, port. */
export function describeProbeTarget(probe: Probe): string {
  switch (probe.kind) {
    case 'connect':
      return `${probe.host}:${probe.port}${probe.protocol === 'UDP' ? '/udp' : ''}`;
    case 'resolve':
      return probe.name;
    case 'http-get':
      return probe.url;
    case 'serve':
      return String(probe.port);
    case 'write-file':
    case 'read-file':
      return probe.path;
    case 'sleep':
      return probe.seconds === undefined ? 'forever' : String(probe.seconds);
    case 'exit':
      return String(probe.code);
  }
}

/** What a probe printed: `GW-PROBE <kind> <target> ok|fail [detail]`. */
export interface ProbeOutcome {
  kind: ProbeKind;
  target: string;
  ok: boolean;
  /** e.g. the resolved IP, `sha256=<hex>`, an HTTP code, `timeout`. */
  detail?: string;
}

/** One log line in the shared format. The lab's kubelet prints exactly what the real scripts print. */
export function formatProbeLine(o: ProbeOutcome): string {
  if (o.kind === 'exit') return `${PROBE_TAG} exit ${o.target}`;
  return [PROBE_TAG, o.kind, o.target, o.ok ? 'ok' : 'fail', o.detail].filter((x) => x !== undefined && x !== '').join(' ');
}

/** The outcome in a log line, or undefined if the line is not a probe line. */
export function parseProbeLine(line: string): ProbeOutcome | undefined {
  const m = /^GW-PROBE (\S+) (\S+)(?: (ok|fail))?(?: (.*))?$/.exec(line.trim());
  if (!m) return undefined;
  const kind = m[1] as ProbeKind;
  if (!PROBE_KINDS.includes(kind)) return undefined;
  if (kind === 'exit') return { kind, target: m[2]!, ok: m[2] === '0' };
  if (m[3] === undefined) return undefined;
  return m[4] === undefined ? { kind, target: m[2]!, ok: m[3] === 'ok' } : { kind, target: m[2]!, ok: m[3] === 'ok', detail: m[4] };
}

/** Every probe outcome in a pod's logs, in order. */
export function parseProbeLogs(logs: string): ProbeOutcome[] {
  return logs.split('\n').flatMap((l) => parseProbeLine(l) ?? []);
}

/** sha256 hex of a file's content as `sha256sum` prints it. */
export function checksumContent(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

/** The probe image, honouring spec.images.registry (a mirror for air gaps): `<registry>/e2e-test-images/agnhost:2.53`. */
export function probeImage(registry = ''): string {
  if (registry === '') return DEFAULT_PROBE_IMAGE;
  return `${registry.replace(/\/+$/, '')}/${DEFAULT_PROBE_IMAGE.replace(/^registry\.k8s\.io\//, '')}`;
}

export interface ProbeContainerOptions {
  name?: string;
  registry?: string;
  /** Where the probe's volumes are mounted (write-file / read-file paths live under these). */
  volumeMounts?: { name: string; mountPath: string }[];
}

/**
 * A container running `probe` that meets the restricted Pod Security Standard (non-root, no privilege
 * escalation, all capabilities dropped, RuntimeDefault seccomp). serve ports must be >= 1024 as a non-root user.
 */
export function buildProbeContainer(probe: Probe, opts: ProbeContainerOptions = {}): Record<string, unknown> {
  const c: Record<string, unknown> = {
    name: opts.name ?? `probe-${probe.kind}`,
    image: probeImage(opts.registry),
    command: buildProbe(probe),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65534,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
  if (probe.kind === 'serve') c.ports = [{ containerPort: probe.port, protocol: 'TCP' }];
  if (opts.volumeMounts) c.volumeMounts = opts.volumeMounts;
  return c;
}

export interface ProbePodOptions extends ProbeContainerOptions {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  /** Pod volumes, e.g. [{ name: 'data', persistentVolumeClaim: { claimName: 'probe-data' } }]. */
  volumes?: Record<string, unknown>[];
  nodeSelector?: Record<string, string>;
  tolerations?: Record<string, unknown>[];
  /** Default 'Never': the pod's phase is the probe's verdict (Succeeded / Failed). Servers use 'Always'. */
  restartPolicy?: 'Never' | 'OnFailure' | 'Always';
}

/**
 * A whole Pod running one probe, restricted-PSS compliant at pod and container level. One-shot probes end the
 * pod (phase Succeeded/Failed, log line `GW-PROBE ...`); `serve` and run-forever sleeps keep it Running.
 */
export function buildProbePod(probe: Probe, opts: ProbePodOptions): Record<string, unknown> {
  const forever = probe.kind === 'serve' || (probe.kind === 'sleep' && probe.seconds === undefined);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: opts.name, namespace: opts.namespace, labels: { 'app.kubernetes.io/managed-by': 'groundwork', ...(opts.labels ?? {}) } },
    spec: {
      restartPolicy: opts.restartPolicy ?? (forever ? 'Always' : 'Never'),
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [buildProbeContainer(probe, { name: 'probe', registry: opts.registry, volumeMounts: opts.volumeMounts })],
      ...(opts.volumes ? { volumes: opts.volumes } : {}),
      ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
      ...(opts.tolerations ? { tolerations: opts.tolerations } : {}),
    },
  };
}
