import test from 'ava';
import { inWindow, wouldExceed } from '../../lib/supervision/index.js';

test('inWindow keeps only timestamps newer than now - window', (t) => {
  t.deepEqual(inWindow([100, 500, 900, 1000], 1500, 1000), [900, 1000]);
  t.deepEqual(inWindow([500], 1500, 1000), [], 'exactly window old is outside');
});

test('three restarts fit a budget of three; a fourth does not', (t) => {
  const budget = { maxRestarts: 3, windowMs: 1000 };
  t.false(wouldExceed([], 0, budget));
  t.false(wouldExceed([0, 10], 20, budget));
  t.true(wouldExceed([0, 10, 20], 30, budget));
});

test('the window slides: old restarts stop counting', (t) => {
  const budget = { maxRestarts: 3, windowMs: 1000 };
  t.true(wouldExceed([0, 10, 20], 999, budget));
  t.false(wouldExceed([0, 10, 20], 1001, budget), 'the restart at 0 left the window');
  t.true(wouldExceed([0, 10, 20], 1010, budget) === false && wouldExceed([0, 10, 20], 1015, budget) === false);
  t.false(wouldExceed([0, 10, 20], 1021, budget));
});

test('a budget of zero allows no restart', (t) => {
  t.true(wouldExceed([], 0, { maxRestarts: 0, windowMs: 1000 }));
});
