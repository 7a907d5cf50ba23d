/**
 * The shape of `cluster.config.ts`: what users write, every field with its
 * default. `defineConfig` only types it; `loadConfig` validates it.
 */
import type { ServiceSpecInput } from '../model/index.js';

/** Cluster-wide settings. */
export interface ClusterSection {
  /** Cluster name: a label on every container and process record it starts. @default 'goat' */
  name?: string;
  /** The cluster token (API and joining workers). Prefer GOAT_TOKEN or the generated `<dataDir>/token` over writing it here. @default generated */
  token?: string;
  /**
   * CA certificate file (PEM) trusted for a manager with TLS, besides the
   * system's CAs: used by a worker's link (wss://) and by a follower manager
   * forwarding to the leader. The CLI takes `--tls-ca`. Env: GOAT_TLS_CA.
   * @default the system's CAs
   */
  tlsCa?: string;
}

/** The manager's settings. */
export interface ManagerSection {
  /** `host:port` of the HTTP API and worker links. Env: GOAT_LISTEN. @default '127.0.0.1:7070' */
  listen?: string;
  /** Where the store (`goat.db`) and the generated token live. Env: GOAT_DATA_DIR. @default '.goat' */
  dataDir?: string;
  /** Heartbeat interval told to workers, ms. @default 1000 */
  heartbeatMs?: number;
  /** A node unheard this long is `down` and its tasks are re-placed, ms. @default 4000 */
  downAfterMs?: number;
  /** How the scheduler picks among nodes that fit: spread replicas, or pack them. @default 'spread' */
  scorer?: 'spread' | 'binpack';
  /** Require the cluster token on `/metrics` too; it is open by default, like `/healthz` (it shows counts, no specs or secrets). @default false */
  metricsToken?: boolean;
  /**
   * Serve the HTTP API and worker links over TLS (https://, wss://): the
   * certificate chain and unencrypted private key, PEM files. Plain HTTP to
   * that port is answered 400 GOAT_ERR_TLS_REQUIRED. Env: GOAT_TLS_CERT and
   * GOAT_TLS_KEY; flags `--tls-cert F --tls-key F`. @default plain HTTP
   */
  tls?: TlsSection;
  /**
   * Several managers on etcd (high availability): the store lives in etcd and
   * one manager, elected, leads. Absent: one manager on its SQLite file.
   * Env: GOAT_ETCD (comma-separated endpoints); flag `--etcd URL[,URL…]`.
   */
  etcd?: EtcdSection;
}

/** The manager's certificate and key (PEM files). */
export interface TlsSection {
  /** Certificate chain file (PEM), the server's certificate first; its names must include the host clients use. */
  cert: string;
  /** Private key file (PEM, unencrypted; keep it mode 0600). */
  key: string;
}

/** The etcd cluster several managers share. */
export interface EtcdSection {
  /** etcd client URLs, e.g. `['http://10.0.0.1:2379', …]`. */
  endpoints: string[];
  /** Key prefix of this Goat cluster in etcd. @default 'goat' */
  prefix?: string;
  /** The leader's lease, ms: a crashed leader is replaced after about this long (etcd counts whole seconds, ≥ 2). @default 3000 */
  leaseTtlMs?: number;
}

/** The (local) worker's settings. */
export interface WorkerSection {
  /** `auto` uses Docker when its engine answers, else local processes. Env: GOAT_RUNTIME. @default 'auto' */
  runtime?: 'auto' | 'docker' | 'process';
  /** Node name shown in `goat-cluster nodes`. @default 'local' for `start`, the node id otherwise */
  name?: string;
  /** Labels that service constraints can match. @default {} */
  labels?: Record<string, string>;
  /** Its state dir. @default '<manager.dataDir>/worker' */
  dataDir?: string;
  /**
   * Lets `runtime: 'auto'` fall back to local processes when Docker does not
   * answer. A process task runs any command as the worker's user, so this is
   * opt-in (like Nomad's `raw_exec`); `--allow-process` on the command line.
   * Without it and without Docker, the node takes no tasks and says why.
   * @default false
   */
  allowProcess?: boolean;
  /**
   * Size-based rotation of every task's log, for both runtimes: a process
   * task's `stdout.log`/`stderr.log` are rotated by the worker, a container's
   * by the engine (json-file `max-size`/`max-file`, set when the container is
   * created). A task keeps at most about `maxBytes × maxFiles` per output.
   * @default { maxBytes: 10485760, maxFiles: 3 } (10 MiB × 3)
   */
  logs?: {
    /** Rotate a log file once it is larger than this many bytes (at least 1024). @default 10485760 */
    maxBytes?: number;
    /** Files kept per output, the current one included (1 to 100). @default 3 */
    maxFiles?: number;
  };
}

/** What `services` may depend on: the runtime the local worker chose. */
export interface ServicesContext {
  runtime: 'docker' | 'process';
}

/** `cluster.config.ts`'s default export. */
export interface GoatConfig {
  cluster?: ClusterSection;
  manager?: ManagerSection;
  worker?: WorkerSection;
  /**
   * Services applied at start (declarative: the config says what should run;
   * a service it lists is created or updated, others are left alone). A
   * function gets the local worker's runtime, to run an image under Docker
   * and the same program as a process elsewhere. @default []
   */
  services?: ServiceSpecInput[] | ((ctx: ServicesContext) => ServiceSpecInput[]);
}

/** Types a config (an identity function, for editor help and type checks). */
export function defineConfig(config: GoatConfig): GoatConfig {
  return config;
}
