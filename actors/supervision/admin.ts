/**
 * `send` and `ask` from the admin channel, checked where they enter: the
 * message must be an object with a string `type`; `$info`, `$state` and
 * `$kill` are answered for every path (supervisors too); anything else
 * reaches an actor only if the actor says it understands it. Nothing typed
 * in the REPL can crash an actor except `$kill`, which is meant to.
 */
import { GoatError } from '../../lib/errors.js';
import { isIntrospection, type PathHandle } from '../../lib/supervision/index.js';

/** A `send` or `ask` as the admin channel carries it. */
export interface AdminCall {
  type: 'send' | 'ask';
  path: string;
  message: unknown;
  timeoutMs?: number;
}

/** Whatever can find a path: a supervisor, or a tree of them. */
export interface Inspectable {
  inspect(path: string): PathHandle | undefined;
}

/**
 * The error for a path with no actor behind it. A path of the old shape
 * (`/manager/...`, `/worker/...`, before the `cluster` root) is told its new one.
 */
export function noActorAt(path: string): GoatError {
  if (/^\/(manager|worker)(\/|$)/.test(path)) {
    const now = `/cluster${path}`;
    return new GoatError('GOAT_ERR_NO_SUCH_CHILD', `no actor at ${path}: paths start at the root now, try ${now}`, { details: { path, suggestion: now } });
  }
  return new GoatError('GOAT_ERR_NO_SUCH_CHILD', `no actor at ${path}`, { details: { path } });
}

/** Checks the shape every admin message must have; returns it typed. */
export function checkMessage(message: unknown): { type: string; [k: string]: unknown } {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw new GoatError('GOAT_ERR_BAD_MESSAGE', `a message is an object with a string type, e.g. { type: '$info' }; got ${message === null ? 'null' : Array.isArray(message) ? 'an array' : typeof message}`, { details: { field: 'message' } });
  }
  const type = (message as { type?: unknown }).type;
  if (typeof type !== 'string' || type.length === 0 || type.length > 64) {
    throw new GoatError('GOAT_ERR_BAD_MESSAGE', 'a message needs a string type (1 to 64 characters), e.g. { type: \'$info\' }', { details: { field: 'message.type' } });
  }
  return message as { type: string };
}

/** Answers one `send` or `ask` against `root`. */
export async function adminCall(root: Inspectable, call: AdminCall): Promise<unknown> {
  const target = root.inspect(call.path);
  if (!target) throw noActorAt(call.path);
  const message = checkMessage(call.message);
  const timeoutMs = call.timeoutMs ?? 5_000;
  if (isIntrospection(message.type)) {
    switch (message.type) {
      case '$info':
        return target.info();
      case '$state':
        return target.state(timeoutMs);
      case '$kill': {
        const reason = typeof message['reason'] === 'string' ? message['reason'].slice(0, 256) : 'killed from the REPL';
        target.kill(reason);
        return { killed: target.path, reason };
      }
    }
  }
  const probe = call.type === 'ask' ? { ...message, reply: () => undefined } : message;
  const why = target.accepts(probe);
  if (why !== null || !target.ref) throw new GoatError('GOAT_ERR_BAD_MESSAGE', why ?? `${call.path} takes no messages`, { details: { path: call.path, type: message.type } });
  if (call.type === 'send') return { delivery: target.ref.send(message) };
  return target.ref.ask((reply) => ({ ...message, reply }), timeoutMs);
}
