/**
 * Errors with stable codes. Every error Goat raises on purpose is a
 * {@link GoatError} whose `code` is one of {@link ERROR_CODES}; codes never
 * change meaning once released, so scripts and tools can match on them.
 */

/** Every error code Goat uses, with the one-line meaning shown in the README. */
export const ERROR_CODES = {
  GOAT_ERR_INVALID_SPEC: 'A child, supervisor, task or service spec failed validation; `details.field` names the field.',
  GOAT_ERR_INVALID_CONFIG: 'The config file (or a GOAT_* variable) is invalid; `details.file`, `details.field` and `details.expected` say where and what.',
  GOAT_ERR_USAGE: 'The command line could not be understood (exit code 2).',
  GOAT_ERR_NOT_IMPLEMENTED: 'The command exists in the CLI contract but is not built yet.',
  GOAT_ERR_DUPLICATE_CHILD: 'A supervisor already has a child with this id.',
  GOAT_ERR_NO_SUCH_CHILD: 'No child with this id or path exists under the supervisor.',
  GOAT_ERR_BUDGET_EXCEEDED: 'A child restarted more than `maxRestarts` times within `windowMs`.',
  GOAT_ERR_ESCALATED: 'A supervisor gave up and escalated; at the root this is final.',
  GOAT_ERR_SUPERVISOR_STOPPED: 'The supervisor is stopped (or failed) and accepts no more work.',
  GOAT_ERR_ASK_TIMEOUT: 'An ask got no reply within its timeout.',
  GOAT_ERR_DEAD_LETTER: 'A message could not be delivered (the actor is stopped, failed, or its stash is full).',
  GOAT_ERR_INVALID_TRANSITION: 'A task state change that the state machine does not allow.',
  GOAT_ERR_TASK_UNHEALTHY: 'A task failed its health check `retries` times in a row and was stopped (a crash).',
  GOAT_ERR_UNAUTHORIZED: 'The request has no valid cluster token (HTTP 401).',
  GOAT_ERR_NOT_FOUND: 'No such service, task, node or route (HTTP 404).',
  GOAT_ERR_CONFLICT: 'The request conflicts with what exists, e.g. an Idempotency-Key reused with another body (HTTP 409).',
  GOAT_ERR_TOO_LARGE: 'The request body is larger than the limit (HTTP 413).',
  GOAT_ERR_BAD_REQUEST: 'The request body is not valid JSON (HTTP 400).',
  GOAT_ERR_NOT_READY: 'The manager is not ready: its store is not loaded or it is not the leader (HTTP 503).',
  GOAT_ERR_NODE_DOWN: 'The node a task ran on is down; the task is lost and its slot re-placed.',
  GOAT_ERR_INTERNAL: 'An unexpected error inside Goat (HTTP 500); please report it.',
  GOAT_ERR_CHILD_START: 'A child failed to start (its start function threw or rejected).',
  GOAT_ERR_RESOURCE: 'This node lacks something the task needs (`details.resource`: image, disk, cpu, memory, port or executable); a resource failure, not an application failure: place the task elsewhere.',
  GOAT_ERR_UNPLACEABLE: 'No node of the cluster can ever run the task (e.g. a `--command` without an image when every node runs Docker); `run` says how to fix it and creates nothing (`details.nodes`).',
  GOAT_ERR_RUNTIME_UNAVAILABLE: 'The container engine does not answer (Docker daemon down or restarting); temporary.',
  GOAT_ERR_NO_SUCH_TASK: 'The runtime has no container or process for this task and generation.',
  GOAT_ERR_TASK_START: 'The runtime could not start the task\'s program (e.g. its executable is missing inside the image); an application failure.',
  GOAT_ERR_RUNTIME: 'The runtime failed an operation for another reason; `details` carries what the engine said.',
  GOAT_ERR_STORE_CORRUPT: 'The store file failed its integrity check or is not a Goat store; Goat refuses to start on it (`details.file`); restore a backup with `goat-cluster restore FILE`.',
  GOAT_ERR_STORE_VERSION: 'The store file was written by a newer Goat (its schema version is above the one this Goat knows); upgrade Goat or restore an older backup.',
  GOAT_ERR_BAD_FRAME: 'A link frame could not be decoded or failed its schema; the message names what is wrong (`details.field`, `details.problem`).',
  GOAT_ERR_DISK_FULL: 'The disk under the store is full: the write was not made (HTTP 507, `/readyz` 503 meanwhile); temporary, it succeeds again once space returns.',
  GOAT_ERR_NODE_UNREACHABLE: 'The node that holds what was asked for (a task\'s logs) is not linked now: down or cut off; `details.node` and `details.lastSeenAt` say which and since when (HTTP 503).',
  GOAT_ERR_LINK_CLOSED: 'The link to the worker or manager closed before the command was acknowledged; temporary.',
  GOAT_ERR_BAD_MESSAGE: 'An actor does not understand this message (admin channel or link); nothing was delivered and the actor runs on.',
  GOAT_ERR_BUSY: 'Too many admin requests in flight on this session; temporary: wait for answers, then retry.',
  GOAT_ERR_NO_PREVIOUS_SPEC: 'A rollback was asked for, but the service has no previous spec to go back to (HTTP 409).',
  GOAT_ERR_TLS_FILE: 'A TLS certificate, key or CA file (`--tls-cert`, `--tls-key`, `--tls-ca`) cannot be read, is not PEM, or the key does not match the certificate (`details.file`); nothing was started.',
  GOAT_ERR_TLS_UNTRUSTED: 'The manager\'s certificate is not trusted by this client (`details.url`, `details.reason`): pass `--tls-ca FILE` (or GOAT_TLS_CA) with the CA that signed it.',
  GOAT_ERR_TLS_REQUIRED: 'Plain HTTP (or ws://) was sent to a manager that speaks TLS only (HTTP 400): use https:// (wss:// for worker links).',
  GOAT_ERR_FOREIGN_CLUSTER: 'The worker belongs to another cluster than the manager\'s store (a new data dir, or a store emptied or replaced): refused, its tasks left running, until `goat-cluster adopt NODE` (`details.clusterId`, `details.managerClusterId`).',
  GOAT_ERR_STORE_UNREACHABLE: 'No etcd endpoint answered when a manager started with `--etcd` (`details.endpoints` names them); check the URLs and that etcd runs.',
} as const;

/** A stable error code, e.g. `GOAT_ERR_ASK_TIMEOUT`. */
export type GoatErrorCode = keyof typeof ERROR_CODES;

/** Options of a {@link GoatError}. */
export interface GoatErrorOptions {
  /** Structured facts about the failure (a field name, a path, a limit). */
  details?: Record<string, unknown>;
  /** True when retrying the same operation later may succeed. @default false */
  temporary?: boolean;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** The one error class of Goat: a stable `code`, a message, details and a cause. */
export class GoatError extends Error {
  override readonly name = 'GoatError';
  readonly code: GoatErrorCode;
  readonly details: Record<string, unknown>;
  readonly temporary: boolean;

  constructor(code: GoatErrorCode, message: string, options: GoatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    this.temporary = options.temporary ?? false;
  }

  /** JSON form used by the HTTP API and events: `{ code, message, details }`. */
  toJSON(): { code: GoatErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** True when `err` is a {@link GoatError}, optionally with the given code. */
export function isGoatError(err: unknown, code?: GoatErrorCode): err is GoatError {
  return err instanceof GoatError && (code === undefined || err.code === code);
}
