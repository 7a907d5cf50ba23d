/** The store cell: the handle to the store the manager's `store` actor owns (closed by its terminate, reopened from disk by its restart). */
import test from 'ava';
import { join } from 'node:path';
import type { GoatError } from '../../lib/errors.js';
import { openSqliteStore, StoreCell } from '../../lib/store/index.js';
import { node, tempDir } from './helpers.js';

test('forwards to the open store; closed, it fails fast with a temporary GOAT_ERR_NOT_READY; reopened, it reads what was committed', (t) => {
  const file = join(tempDir(t), 'goat.db');
  let opened = 0;
  const cell = new StoreCell(() => {
    opened++;
    return openSqliteStore(file);
  });
  t.teardown(() => cell.close());
  t.false(cell.isOpen);
  cell.open();
  cell.open();
  t.is(opened, 1, 'opening an open cell is a no-op');
  cell.putNode(node('n1'));
  t.is(cell.file, file);
  cell.close();
  const err = t.throws(() => cell.listNodes()) as GoatError;
  t.is(err.code, 'GOAT_ERR_NOT_READY');
  t.true(err.temporary);
  cell.open();
  t.is(opened, 2);
  t.deepEqual(cell.listNodes().map((n) => n.id), ['n1'], 'reopened from disk');
});
