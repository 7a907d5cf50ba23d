/**
 * Reading a container's inspect data as Goat sees it: identity from labels,
 * running state, start time and how the last run ended. Pure.
 */
import type Dockerode from 'dockerode';
import { publishedPorts } from './docker-spec.js';
import { exitInfo } from './exit-info.js';
import { identityFromLabels } from './identity.js';
import type { ExitInfo, TaskStatus } from './types.js';

const NEVER = '0001-01-01T00:00:00Z';

/** A Docker timestamp in ms since the epoch, or undefined for Docker's "never". */
export function dockerTime(value: string | undefined): number | undefined {
  if (!value || value.startsWith('0001-01-01')) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** What the runtime knows about a container beyond its inspect data. */
export interface ContainerFacts {
  /** This runtime stopped or removed it. */
  stopRequested: boolean;
  /** The engine's event stream reported it OOM-killed. */
  oomEvent: boolean;
  /** Its last output lines. */
  logTail: string[];
}

/** How the container's last run ended, or undefined while it runs or if it never started. */
export function containerExit(info: Dockerode.ContainerInspectInfo, facts: ContainerFacts): ExitInfo | undefined {
  const state = info.State;
  if (state.Running || state.Restarting || dockerTime(state.StartedAt ?? NEVER) === undefined) return undefined;
  return exitInfo({
    code: state.ExitCode,
    signal: null,
    oomKilled: state.OOMKilled || facts.oomEvent,
    stopRequested: facts.stopRequested,
    finishedAt: dockerTime(state.FinishedAt) ?? Date.now(),
    logTail: facts.logTail,
  });
}

/** True when an exit may be an OOM kill the engine has not reported yet: SIGKILL'd under a memory limit, not by us. */
export function mayBeOomKill(info: Dockerode.ContainerInspectInfo, stopRequested: boolean): boolean {
  return !stopRequested && !info.State.OOMKilled && info.State.ExitCode === 137 && (info.HostConfig?.Memory ?? 0) > 0;
}

/** The {@link TaskStatus} of a Goat container, or undefined when its labels are not Goat's. */
export function containerStatus(info: Dockerode.ContainerInspectInfo, facts: ContainerFacts): TaskStatus | undefined {
  const identity = identityFromLabels(info.Config?.Labels);
  if (!identity) return undefined;
  const startedAt = dockerTime(info.State.StartedAt);
  const exit = containerExit(info, facts);
  return {
    ...identity,
    runtimeId: info.Id,
    running: info.State.Running,
    state: info.State.Status,
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(exit === undefined ? {} : { exit }),
    ports: publishedPorts(info),
  };
}
