import test from 'ava';
import { DETECTOR_DEFAULTS, FailureDetector, detectorConfig, type DetectorVerdict } from '../../lib/model/index.js';
import type { GoatError } from '../../lib/errors.js';

/**
 * A simulated manager: a clock, nodes that send a heartbeat every interval
 * (those still alive), and a check every 250 ms whose own lateness is fed to
 * the detector as a stall — the way the manager measures its event-loop lag.
 */
class Sim {
  now = 0;
  readonly fd = new FailureDetector();
  readonly alive = new Set<string>();
  readonly verdicts = new Map<string, DetectorVerdict[]>();
  #nextBeat = new Map<string, number>();
  #nextCheck = 250;
  /** Heartbeats sent while the manager was blocked: read when it unblocks. */
  #unread: string[] = [];

  add(node: string): void {
    this.alive.add(node);
    this.fd.heartbeat(node, this.now);
    this.#nextBeat.set(node, this.now + 1_000);
    this.verdicts.set(node, []);
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
    for (const node of this.#unread) this.fd.heartbeat(node, this.now);
    this.#unread = [];
  }

  #beats(blocked: boolean): void {
    for (const node of this.alive) {
      if (this.now < this.#nextBeat.get(node)!) continue;
      this.#nextBeat.set(node, this.now + 1_000);
      if (blocked) this.#unread.push(node);
      else this.fd.heartbeat(node, this.now);
    }
  }

  #check(): void {
    const late = this.now - this.#nextCheck;
    if (late > 0) this.fd.stall(this.now, late);
    this.#nextCheck = this.now + 250;
    for (const node of this.verdicts.keys()) {
      const list = this.verdicts.get(node)!;
      const v = this.fd.status(node, this.now)!;
      if (list.at(-1) !== v) list.push(v);
    }
  }

  /** When `node` first got `verdict`, by running until it does (at most `maxMs`). */
  until(node: string, verdict: DetectorVerdict, maxMs = 20_000): number {
    const end = this.now + maxMs;
    while (this.now < end) {
      this.run(10);
      if (this.fd.status(node, this.now) === verdict) return this.now;
    }
    throw new Error(`${node} never ${verdict}`);
  }
}

test('defaults: 1 s interval, suspect after 2 intervals, down after 4 s', (t) => {
  const fd = new FailureDetector();
  t.is(fd.intervalMs, 1_000);
  t.is(fd.suspectAfterMs, 2_000);
  t.is(fd.downAfterMs, 4_000);
  t.is(new FailureDetector({ intervalMs: 100, downAfterMs: 150 }).suspectAfterMs, 150, 'suspect never after down');
});

test('a node is ready, then suspect at 2 intervals of silence, then down at 4 s', (t) => {
  const fd = new FailureDetector();
  t.is(fd.status('a', 0), undefined, 'unknown node');
  fd.heartbeat('a', 1_000);
  t.is(fd.status('a', 1_000), 'ready');
  t.is(fd.status('a', 2_999), 'ready');
  t.is(fd.status('a', 3_000), 'suspect');
  t.is(fd.status('a', 4_999), 'suspect');
  t.is(fd.status('a', 5_000), 'down');
  fd.heartbeat('a', 5_100);
  t.is(fd.status('a', 5_100), 'ready', 'a heartbeat makes it ready again');
  fd.heartbeat('a', 4_000);
  t.is(fd.lastHeartbeat('a'), 5_100, 'an older arrival time never moves it back');
  fd.forget('a');
  t.deepEqual(fd.nodes(), []);
});

test('silence overlapping a stall of the caller is discounted; a stall before the last heartbeat is not', (t) => {
  const fd = new FailureDetector();
  fd.heartbeat('a', 0);
  fd.stall(2_500, 2_000); // blocked from 500 to 2500
  t.is(fd.silenceMs('a', 2_500), 500);
  t.is(fd.status('a', 3_999), 'ready');
  t.is(fd.status('a', 4_000), 'suspect');
  t.is(fd.status('a', 5_999), 'suspect');
  t.is(fd.status('a', 6_000), 'down');
  fd.heartbeat('b', 3_000);
  t.is(fd.silenceMs('b', 5_000), 2_000, 'the stall ended before b last spoke');
  fd.heartbeat('c', 1_500);
  t.is(fd.silenceMs('c', 3_000), 500, 'only the part of the stall after c last spoke counts');
  fd.stall(10, 0);
  t.is(fd.silenceMs('a', 2_500), 500, 'a zero stall is ignored');
});

test('simulated clock: a really silent node goes suspect at 2 s and down at 4 s after its last heartbeat', (t) => {
  const sim = new Sim();
  sim.add('a');
  sim.add('b');
  sim.run(3_000);
  sim.alive.delete('b');
  const last = sim.fd.lastHeartbeat('b')!;
  const suspectAt = sim.until('b', 'suspect');
  const downAt = sim.until('b', 'down');
  t.log(`suspect after ${suspectAt - last} ms, down after ${downAt - last} ms of silence`);
  t.true(suspectAt - last >= 2_000 && suspectAt - last < 2_100);
  t.true(downAt - last >= 4_000 && downAt - last < 4_100);
  sim.run(2_000);
  t.deepEqual(sim.verdicts.get('a'), ['ready'], 'the other node stayed ready');
  t.deepEqual(sim.verdicts.get('b'), ['ready', 'suspect', 'down']);
});

test('simulated clock: a 2 s (and a 3.5 s) manager stall marks no node that kept sending suspect or down', (t) => {
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

test('simulated clock: a node that dies during a stall still goes down, later only by the stall', (t) => {
  const sim = new Sim();
  sim.add('a');
  sim.add('gone');
  sim.run(2_000);
  sim.alive.delete('gone');
  const last = sim.fd.lastHeartbeat('gone')!;
  sim.stall(2_000);
  const downAt = sim.until('gone', 'down');
  t.log(`down ${downAt - last} ms after its last heartbeat (2000 ms of it the manager's own stall)`);
  t.true(downAt - last >= 4_000 && downAt - last <= 6_100);
  t.deepEqual(sim.verdicts.get('a'), ['ready']);
});

test('many stalls are pruned once no node can be affected by them', (t) => {
  const fd = new FailureDetector();
  for (let i = 0; i < 200; i++) {
    fd.stall(i * 10, 5);
    fd.heartbeat('a', i * 10 + 1);
  }
  t.is(fd.silenceMs('a', 2_000), 2_000 - 1_991);
});

test('one detector configuration: defaults defined once, suspect and link silence never beyond down, a down timeout within one heartbeat refused', (t) => {
  t.deepEqual(detectorConfig(), { heartbeatMs: DETECTOR_DEFAULTS.heartbeatMs, suspectAfterMs: 2_000, downAfterMs: DETECTOR_DEFAULTS.downAfterMs, linkSilenceMs: 3_000 });
  t.deepEqual(detectorConfig({ heartbeatMs: 100 }), { heartbeatMs: 100, suspectAfterMs: 200, downAfterMs: 4_000, linkSilenceMs: 300 });
  t.deepEqual(detectorConfig({ heartbeatMs: 200, downAfterMs: 500 }), { heartbeatMs: 200, suspectAfterMs: 400, downAfterMs: 500, linkSilenceMs: 500 });
  t.is(detectorConfig({ heartbeatMs: 5_000 }).downAfterMs, 20_000, 'a slow heartbeat keeps four missed beats before down');
  const err = t.throws(() => detectorConfig({ heartbeatMs: 1_000, downAfterMs: 600 }));
  t.is((err as GoatError).code, 'GOAT_ERR_INVALID_CONFIG');
  t.is((err as GoatError).details.field, 'downAfterMs');
  const fd = new FailureDetector({ intervalMs: 250 });
  t.is(fd.suspectAfterMs, detectorConfig({ heartbeatMs: 250 }).suspectAfterMs, 'the detector reads the same configuration');
});
