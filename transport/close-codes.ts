/**
 * WebSocket close codes of a link, each with its meaning (like ws lists its
 * codes). 1xxx are the protocol's own; 4xxx are Goat's.
 */
export const LINK_CLOSE = {
  /** Closed on purpose by either side (`stop()`, `close()`). */
  NORMAL: { code: 1000, meaning: 'closed on purpose' },
  /** The manager is shutting down its link server. */
  GOING_AWAY: { code: 1001, meaning: 'the link server is shutting down' },
  /** A frame larger than `maxPayload` (set by ws itself). */
  TOO_BIG: { code: 1009, meaning: 'a frame exceeded maxPayload' },
  /** No valid `hello` within `helloTimeoutMs` of the upgrade. */
  HELLO_TIMEOUT: { code: 4001, meaning: 'no hello within the hello timeout' },
  /** Too many malformed, schema-invalid, unknown or unexpected frames. */
  BAD_FRAMES: { code: 4002, meaning: 'too many bad frames' },
  /** The worker belongs to another cluster (its cluster id is not the store's); it keeps its tasks. */
  FOREIGN_CLUSTER: { code: 4003, meaning: 'the node belongs to another cluster: refused until adopted' },
  /** No frame from the peer for the detector's `linkSilenceMs` (3 intervals by default). */
  SILENT: { code: 4008, meaning: 'no heartbeat for 3 intervals' },
  /** A newer link of the same node replaced this one (for the manager's use). */
  REPLACED: { code: 4009, meaning: 'replaced by a newer link of the same node' },
  /** The manager's actor of the node restarted: the hello it had is stale, the worker must say hello again. */
  RESYNC: { code: 4010, meaning: 'the node\'s actor restarted: say hello again' },
} as const;

/** A name of {@link LINK_CLOSE}. */
export type LinkCloseName = keyof typeof LINK_CLOSE;

/** The meaning of a close code, or `undefined` when it is not one of {@link LINK_CLOSE}. */
export function closeMeaning(code: number): string | undefined {
  return Object.values(LINK_CLOSE).find((c) => c.code === code)?.meaning;
}
