/**
 * transport — how the manager and its workers talk: versioned superjson
 * frames with a zod schema each (`frames`), the manager's link server and
 * its per-worker links (`link-server`, `manager-link`), the worker's
 * reconnecting client (`link-client`), token checks and their throttle
 * (`auth`), reconnect backoff (`reconnect`) and the close codes.
 */
export { FRAME_VERSION, FRAME_TYPES, BODY_SCHEMAS, encodeFrame, decodeFrame, newId } from './frames.js';
export type { Frame, FrameType, FrameBody, FrameBodyInput, Direction, TypesOf, TaskReport, HelloBody, HeartbeatBody, ReportBody, WelcomeBody, AssignBody, StopBody, AckBody, ErrorBody } from './frames.js';
export { LINK_CLOSE, closeMeaning, type LinkCloseName } from './close-codes.js';
export { bearerMatches, AuthThrottle, AUTH_THROTTLE_DEFAULTS, type AuthThrottleOptions } from './auth.js';
export { reconnectDelay, jittered, RECONNECT_DEFAULTS, type ReconnectBackoff } from './reconnect.js';
export { Emitter } from './emitter.js';
export { ManagerLink, type ManagerLinkEvents, type ManagerLinkOptions, type CommandType, type CommandBody, type CommandResult } from './manager-link.js';
export { LinkServer, LINK_PATH, type LinkServerOptions, type LinkServerEvents, type LinkRejection } from './link-server.js';
export { LinkClient, linkUrl, type LinkClientOptions, type LinkClientEvents, type LinkStatus } from './link-client.js';
