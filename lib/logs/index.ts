/**
 * lib/logs — reading a task's output on its node: the line model, Docker's
 * log stream split into lines, a process task's log files followed across
 * rotations, size-based rotation with time checkpoints, a bounded buffer that
 * counts what it drops, and merging several tasks' lines into one stream.
 */
export type { LogLine, LogReadOptions, LogReader, LogEvent, LogEventStream, LogStreamName } from './types.js';
export { DockerLogSplitter, dockerLogLines, tailByStream } from './docker-stream.js';
export { followLogFiles, readLogFiles } from './file-follow.js';
export { LogKeeper, rotateFile, LOG_ROTATION_DEFAULTS, type LogRotation } from './rotate.js';
export { BoundedLines } from './bounded.js';
export { mergeEvents } from './merge.js';
export { parseSince, formatLogEvent } from './format.js';
