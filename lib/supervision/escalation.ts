/**
 * The story of a root's escalation in one line, as an OTP node's last log
 * says which child took its supervisor down: which actor crashed, which
 * supervisors gave up in turn, up to the root.
 */
import type { SupervisorEvent } from './events.js';

const KEEP = 200;

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}

/** Keeps the recent crashes and escalations of a tree (bounded) and tells the chain that ended at the root. */
export class EscalationLog {
  readonly #events: SupervisorEvent[] = [];

  /** Feed it every event of the tree's bus. */
  record(e: SupervisorEvent): void {
    if (e.type !== 'child_crashed' && e.type !== 'escalated' && e.type !== 'budget_exceeded') return;
    this.#events.push(e);
    if (this.#events.length > KEEP) this.#events.splice(0, this.#events.length - KEEP);
  }

  /**
   * E.g. `/cluster/manager/reconciler crashed (TypeError: x is null) → /cluster/manager gave up:
   * supervisor budget spent: 11 restarts within 60000 ms (max 10)`. Empty when
   * nothing escalated.
   */
  chain(): string {
    const events = this.#events;
    let i = events.findLastIndex((e) => e.type === 'escalated' && e.final);
    if (i < 0) return '';
    const root = events[i]!.path;
    const links: string[] = [];
    const why = (path: string, before: number): string => {
      const b = events.slice(0, before).findLast((e) => e.type === 'budget_exceeded' && e.path === path && e.scope === 'supervisor');
      return b?.type === 'budget_exceeded' ? b.why : 'gave up';
    };
    links.unshift(`${root} gave up: ${why(root, i)}`);
    let target = root;
    for (;;) {
      const j = events.slice(0, i).findLastIndex((e) => e.type === 'child_crashed' && parentOf(e.path) === target);
      if (j < 0) break;
      const crash = events[j]!;
      if (crash.type !== 'child_crashed') break;
      const escalatedBelow = events.slice(0, j).findLastIndex((e) => e.type === 'escalated' && e.path === crash.path);
      if (escalatedBelow >= 0 && j - escalatedBelow < 10) {
        links.unshift(`${crash.path} gave up: ${why(crash.path, escalatedBelow)}`);
        target = crash.path;
        i = escalatedBelow;
        continue;
      }
      links.unshift(`${crash.path} crashed (${crash.error.code ?? crash.error.name}: ${crash.error.message})`);
      break;
    }
    return links.join(' → ');
  }
}
