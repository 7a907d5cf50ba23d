/** actors/cluster — the `cluster` supervisor at the root of each process's tree. */
export { ClusterRoot, CLUSTER_PATH, within, type ClusterRootOptions } from './root.js';
