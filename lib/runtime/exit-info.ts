/**
 * Building {@link ExitInfo}: one place decides the reason and the human
 * message from what a runtime observed, so both runtimes report alike.
 */
import { constants } from 'node:os';
import type { ExitInfo } from './types.js';

/** What a runtime observed when a task instance ended. */
export interface ExitObservation {
  /** Exit code, if known. */
  code: number | null;
  /** Killing signal, if known. */
  signal: string | null;
  /** Killed by the OOM killer. */
  oomKilled?: boolean;
  /** This runtime had asked it to stop (stop or remove). */
  stopRequested?: boolean;
  /** When it ended, ms since the epoch. */
  finishedAt: number;
  /** Last output lines. */
  logTail?: string[];
}

/** The number of a signal name (`SIGKILL` → 9), or undefined. */
export function signalNumber(signal: string): number | undefined {
  return (constants.signals as Record<string, number>)[signal];
}

/** An {@link ExitInfo} from an observation; a signal without a code gets code 128 + n. */
export function exitInfo(observed: ExitObservation): ExitInfo {
  const signalNo = observed.signal === null ? undefined : signalNumber(observed.signal);
  const code = observed.code ?? (signalNo === undefined ? null : 128 + signalNo);
  const oomKilled = observed.oomKilled ?? false;
  const how =
    observed.signal !== null ? `killed by ${observed.signal}` : code === null ? 'ended, exit status unknown' : `exited with code ${code}`;
  let reason: ExitInfo['reason'];
  let message: string;
  if (observed.stopRequested) {
    reason = 'stopped';
    message = `stopped (${how})`;
  } else if (oomKilled) {
    reason = 'oom';
    message = `killed for exceeding its memory limit (${how})`;
  } else if (code === null) {
    reason = 'unknown';
    message = how;
  } else {
    reason = 'exited';
    message = how;
  }
  return {
    code,
    signal: observed.signal,
    oomKilled,
    reason,
    message,
    finishedAt: observed.finishedAt,
    logTail: observed.logTail ?? [],
  };
}
