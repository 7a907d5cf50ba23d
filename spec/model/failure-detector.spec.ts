/**
 * The one failure-detector configuration (lib/model/failure-detector.ts).
 * The detector itself is the `nodes/<id>` actors' pure liveness step,
 * tested in spec/manager/liveness-stalls.spec.ts and node-liveness.spec.ts.
 */
import test from 'ava';
import { DETECTOR_DEFAULTS, detectorConfig } from '../../lib/model/index.js';
import type { GoatError } from '../../lib/errors.js';

test('defaults: 1 s interval, suspect after 2 intervals, down after 4 s; suspect never after down', (t) => {
  t.deepEqual(detectorConfig(), { heartbeatMs: 1_000, suspectAfterMs: 2_000, downAfterMs: 4_000, linkSilenceMs: 3_000 });
  t.is(detectorConfig({ heartbeatMs: 100, downAfterMs: 150 }).suspectAfterMs, 150);
});

test('one detector configuration: defaults defined once, suspect and link silence never beyond down, a down timeout within one heartbeat refused', (t) => {
  t.deepEqual(detectorConfig(), { heartbeatMs: DETECTOR_DEFAULTS.heartbeatMs, suspectAfterMs: 2_000, downAfterMs: DETECTOR_DEFAULTS.downAfterMs, linkSilenceMs: 3_000 });
  t.deepEqual(detectorConfig({ heartbeatMs: 100 }), { heartbeatMs: 100, suspectAfterMs: 200, downAfterMs: 4_000, linkSilenceMs: 300 });
  t.deepEqual(detectorConfig({ heartbeatMs: 200, downAfterMs: 500 }), { heartbeatMs: 200, suspectAfterMs: 400, downAfterMs: 500, linkSilenceMs: 500 });
  t.is(detectorConfig({ heartbeatMs: 5_000 }).downAfterMs, 20_000, 'a slow heartbeat keeps four missed beats before down');
  const err = t.throws(() => detectorConfig({ heartbeatMs: 1_000, downAfterMs: 600 }));
  t.is((err as GoatError).code, 'GOAT_ERR_INVALID_CONFIG');
  t.is((err as GoatError).details.field, 'downAfterMs');
});
