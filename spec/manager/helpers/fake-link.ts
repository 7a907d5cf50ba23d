/** A worker link without a network (a NodeLink for Manager.attachLink), driven by the test. */
import type { NodeLink } from '../../../actors/manager/context.js';
import type { NodeRecord } from '../../../lib/model/index.js';
import type { ReportedTask } from '../../../lib/manager/index.js';
import type { HelloBody } from '../../../transport/frames.js';
import { Emitter } from '../../../transport/emitter.js';
import type { CommandBody, CommandResult, CommandType } from '../../../transport/manager-link.js';

interface Events {
  heartbeat: { seq: number; usage: NodeRecord['usage'] };
  report: { tasks: ReportedTask[]; seq?: number };
  close: { code: number; reason: string };
}

/** A fake link: commands are recorded and acknowledged at once; the test sends heartbeats and reports. */
export class FakeLink extends Emitter<Events> implements NodeLink {
  readonly commands: { type: CommandType; body: unknown }[] = [];
  closed: { code: number; reason: string } | null = null;
  #seq = 0;

  constructor(readonly hello: HelloBody) {
    super();
  }

  get nodeId(): string {
    return this.hello.nodeId;
  }
  get open(): boolean {
    return this.closed === null;
  }
  command<T extends CommandType>(type: T, body: CommandBody<T>): Promise<CommandResult> {
    if (this.closed) return Promise.reject(new Error('closed'));
    this.commands.push({ type, body });
    return Promise.resolve({ applied: true });
  }
  close(code = 1000, reason = 'closed'): void {
    if (this.closed) return;
    this.closed = { code, reason };
    this.emit('close', this.closed);
  }
  beat(): void {
    this.emit('heartbeat', { seq: this.#seq++, usage: { tasks: 0, memoryMb: 0, cpuSeconds: 0 } });
  }
  /** A report frame; `seq` as a worker numbers them on its link (absent: an older worker's). */
  report(tasks: ReportedTask[], seq?: number): void {
    this.emit('report', seq === undefined ? { tasks } : { tasks, seq });
  }
}

/** A hello from a process node. */
export function hello(nodeId: string, tasks: ReportedTask[] = [], cpus = 2): HelloBody {
  return { nodeId, name: nodeId, runtime: 'process', capacity: { cpus, memoryMb: 1024 }, labels: {}, tasks };
}
