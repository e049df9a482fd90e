/**
 * The Kubernetes version the lab is, on both APIs: its kubelets report it (nodeInfo.kubeletVersion), and the
 * embedded API serves it at /version. It is the real control plane's, the version `npm run real-tools` pins
 * (tools/real/kubernetes/go.mod; test/lab/version.test.ts holds the two equal), so a node never reports a
 * kubelet newer than its API server.
 */
export const LAB_KUBERNETES_VERSION = 'v1.37.2';
