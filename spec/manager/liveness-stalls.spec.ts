/**
 * The failure detector as the `nodes/<id>` actors run it (lib/manager's
 * pure `livenessStep`), against a simulated manager: nodes sending a
 * heartbeat every interval, and a check every 250 ms whose own lateness is
 * the manager's event-loop stall. A really silent node goes down on time; a
 * stall of the manager's own marks no node that kept sending. (These ran on
 * the detector class of the legacy ManagerCore before it was removed.)
 */
import test from 'ava';
import { detectorConfig } from '../../lib/model/index.js';
import { linkedLiveness, livenessStep, silenceMs, type LivenessEvent, type LivenessState } from '../../lib/manager/index.js';

type Verdict = 'ready' | 'suspect' | 'down';
const config = detectorConfig();

class Sim {
  now = 0;
  readonly states = new Map<string, LivenessState>();
  readonly alive = new Set<string>();
  readonly verdicts = new Map<string, Verdict[]>();
  readonly lastBeat = new Map<string, number>();
  #nextBeat = new Map<string, number>();
  #nextCheck = 250;
  /** Heartbeats sent while the manager was blocked: read when it unblocks. */
  #unread: string[] = [];

  add(node: string): void {
    this.alive.add(node);
    this.states.set(node, linkedLiveness(this.now));
    this.lastBeat.set(node, this.now);
    this.#nextBeat.set(node, this.now + 1_000);
    this.verdicts.set(node, ['ready']);
  }

  #step(node: string, e: LivenessEvent): void {
    const r = livenessStep(config, this.states.get(node)!, e);
    this.states.set(node, r.state);
    const list = this.verdicts.get(node)!;
    for (const x of r.effects) if (list.at(-1) !== x.type) list.push(x.type);
  }

  verdict(node: string): Verdict {
    return this.verdicts.get(node)!.at(-1)!;
  }

  /** Runs the world for `ms`, 10 ms at a time. */
  run(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += 10;
      this.#beats(false);
      if (this.now >= this.#nextCheck) this.#check();
    }
  }

  /** The manager's event loop is blocked for `ms`: nodes keep sending, nothing is read or checked until it ends. */
  stall(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += 10;
      this.#beats(true);
    }
    // Timers run before I/O is read: the overdue check comes first, then the burst of heartbeats.
    this.#check();
    for (const node of this.#unread) this.#step(node, { type: 'heartbeat', at: this.now });
    this.#unread = [];
  }

  #beats(blocked: boolean): void {
    for (const node of this.alive) {
      if (this.now < this.#nextBeat.get(node)!) continue;
      this.#nextBeat.set(node, this.now + 1_000);
      this.lastBeat.set(node, this.now);
      if (blocked) this.#unread.push(node);
      else this.#step(node, { type: 'heartbeat', at: this.now });
    }
  }

  #check(): void {
    const late = Math.max(0, this.now - this.#nextCheck);
    this.#nextCheck = this.now + 250;
    for (const node of this.states.keys()) this.#step(node, { type: 'check', at: this.now, lateMs: late });
  }

  /** When `node` first got `verdict`, running until it does (at most `maxMs`). */
  until(node: string, verdict: Verdict, maxMs = 20_000): number {
    const end = this.now + maxMs;
    while (this.now < end) {
      this.run(10);
      if (this.verdict(node) === verdict) return this.now;
    }
    throw new Error(`${node} never ${verdict}`);
  }
}

test('silence overlapping a stall of the manager is discounted; only the part after the last heartbeat counts', (t) => {
  const s: LivenessState = { ...linkedLiveness(0), stalls: [{ at: 2_500, ms: 2_000 }] }; // blocked from 500 to 2500
  t.is(silenceMs(s, 2_500), 500);
  t.is(silenceMs(s, 6_000), 4_000, 'down at 6 s: 4 s of real silence');
  t.is(silenceMs({ ...s, lastBeatAt: 1_500 }, 3_000), 500, 'only the part of the stall after its last heartbeat');
  t.is(silenceMs({ ...s, lastBeatAt: 3_000 }, 5_000), 2_000, 'a stall that ended before its last heartbeat');
});

test('a linked node: suspect at 2 intervals of silence, ready at its next heartbeat, down at 4 s', (t) => {
  let s = linkedLiveness(1_000);
  const step = (e: LivenessEvent): string[] => {
    const r = livenessStep(config, s, e);
    s = r.state;
    return r.effects.map((x) => x.type);
  };
  t.deepEqual(step({ type: 'check', at: 2_999, lateMs: 0 }), []);
  t.deepEqual(step({ type: 'check', at: 3_000, lateMs: 0 }), ['suspect']);
  t.deepEqual(step({ type: 'heartbeat', at: 3_100 }), ['ready']);
  t.deepEqual(step({ type: 'heartbeat', at: 2_000 }), [], 'an older arrival never moves it back');
  t.is(s.lastBeatAt, 3_100);
  t.deepEqual(step({ type: 'check', at: 7_099, lateMs: 0 }), ['suspect']);
  t.deepEqual(step({ type: 'check', at: 7_100, lateMs: 0 }), ['down']);
});

test('simulated manager: a really silent node goes suspect at 2 s and down at 4 s after its last heartbeat', (t) => {
  const sim = new Sim();
  sim.add('a');
  sim.add('b');
  sim.run(3_000);
  sim.alive.delete('b');
  const last = sim.lastBeat.get('b')!;
  const suspectAt = sim.until('b', 'suspect');
  const downAt = sim.until('b', 'down');
  t.log(`suspect after ${suspectAt - last} ms, down after ${downAt - last} ms of silence`);
  t.true(suspectAt - last >= 2_000 && suspectAt - last < 2_300);
  t.true(downAt - last >= 4_000 && downAt - last < 4_300);
  sim.run(2_000);
  t.deepEqual(sim.verdicts.get('a'), ['ready'], 'the other node stayed ready');
  t.deepEqual(sim.verdicts.get('b'), ['ready', 'suspect', 'down']);
});

test('simulated manager: a 2 s (and a 3.5 s) stall of its own marks no node that kept sending suspect or down', (t) => {
  for (const ms of [2_000, 3_500]) {
    const sim = new Sim();
    sim.add('a');
    sim.add('b');
    sim.run(2_970); // the stall starts just before the next heartbeats: the worst case
    sim.stall(ms);
    sim.run(5_000);
    sim.stall(ms);
    sim.run(5_000);
    t.deepEqual(sim.verdicts.get('a'), ['ready'], `${ms} ms`);
    t.deepEqual(sim.verdicts.get('b'), ['ready'], `${ms} ms`);
  }
});

test('simulated manager: a node that dies during a stall still goes down, later only by the stall', (t) => {
  const sim = new Sim();
  sim.add('a');
  sim.add('gone');
  sim.run(2_000);
  sim.alive.delete('gone');
  const last = sim.lastBeat.get('gone')!;
  sim.stall(2_000);
  const downAt = sim.until('gone', 'down');
  t.log(`down ${downAt - last} ms after its last heartbeat (2000 ms of it the manager's own stall)`);
  t.true(downAt - last >= 4_000 && downAt - last <= 6_300);
  t.deepEqual(sim.verdicts.get('a'), ['ready']);
});

test('the stalls a node\'s state keeps are bounded, and a heartbeat clears them', (t) => {
  let s = linkedLiveness(0);
  for (let i = 1; i <= 1_000; i++) s = livenessStep({ ...config, downAfterMs: 1e9, suspectAfterMs: 1e9 }, s, { type: 'check', at: i * 250, lateMs: 1 }).state;
  t.true(s.stalls.length <= 256, `${s.stalls.length} stalls kept`);
  s = livenessStep(config, s, { type: 'heartbeat', at: 250_001 }).state;
  t.deepEqual(s.stalls, []);
});
