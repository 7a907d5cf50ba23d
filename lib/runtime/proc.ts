/**
 * Facts about processes from Linux's /proc: state, process group, CPU time
 * and start time. The start time (clock ticks since boot) is what tells a live
 * process from a new one that reused its pid. Without /proc (not Linux) only
 * `kill(pid, 0)` is available and pid reuse goes undetected.
 */
import { readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';

/** Clock ticks per second in /proc times (USER_HZ, 100 on every Linux ABI Node supports). */
export const CLOCK_TICKS = 100;

/** The fields of /proc/<pid>/stat Goat uses. */
export interface ProcStat {
  /** Process id. */
  pid: number;
  /** One letter: R, S, D, Z (zombie), T, X (dead), … */
  state: string;
  /** Process group id. */
  pgrp: number;
  /** User + system CPU time, in clock ticks. */
  cpuTicks: number;
  /** When it started, in clock ticks since boot. */
  startTime: number;
}

/** Parses the text of /proc/<pid>/stat (the command name may hold spaces and parentheses). */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number.parseInt(text, 10);
  const rest = text.slice(close + 2).trim().split(/\s+/); // rest[0] is field 3 (state)
  const field = (n: number): number => Number(rest[n - 3]);
  const state = rest[0];
  if (state === undefined || rest.length < 20) return undefined;
  return { pid, state, pgrp: field(5), cpuTicks: field(14) + field(15), startTime: field(22) };
}

/** /proc/<pid>/stat of a process, or undefined when it does not exist. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Like {@link readProcStat}, synchronously (to record a child's start time the moment it exists). */
export function readProcStatSync(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

let procAvailable: boolean | undefined;

/** True when this machine has a Linux /proc. */
export function hasProc(): boolean {
  if (procAvailable === undefined) procAvailable = readProcStatSync(process.pid) !== undefined;
  return procAvailable;
}

/**
 * True when `pid` is alive, not a zombie, and (when `startTime` is known)
 * still the same process: same start time in /proc, so a reused pid is not
 * mistaken for ours.
 */
export async function isAlive(pid: number, startTime: number | null): Promise<boolean> {
  if (!hasProc()) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  const stat = await readProcStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === null || stat.startTime === startTime;
}

/** Every live process of the process group `pgid` (scans /proc; [] without it). */
export async function groupMembers(pgid: number): Promise<ProcStat[]> {
  if (!hasProc()) return [];
  const names = await readdir('/proc').catch(() => [] as string[]);
  const stats = await Promise.all(names.filter((name) => /^\d+$/.test(name)).map((name) => readProcStat(Number(name))));
  return stats.filter((stat): stat is ProcStat => stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X');
}

/** Resident memory of a process in KiB (VmRSS), 0 when unknown. */
export async function residentKb(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Sends `signal` to every process of group `pgid`; false when none is left (or none is ours to signal). */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone; EPERM: the id now belongs to someone else's processes
  }
}
