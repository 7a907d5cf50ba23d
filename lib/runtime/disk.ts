/** Free and total disk space of the file system holding a path. */
import { statfs } from 'node:fs/promises';

const MIB = 1024 * 1024;

/** Disk space in MiB. */
export interface DiskSpace {
  /** Space an unprivileged writer can still use. */
  freeMb: number;
  /** Size of the file system. */
  totalMb: number;
}

/** Disk space of the file system holding `path`, or undefined when it cannot be measured (path absent, no statfs). */
export async function diskSpace(path: string): Promise<DiskSpace | undefined> {
  try {
    const stats = await statfs(path);
    return {
      freeMb: Math.floor((stats.bavail * stats.bsize) / MIB),
      totalMb: Math.floor((stats.blocks * stats.bsize) / MIB),
    };
  } catch {
    return undefined;
  }
}
