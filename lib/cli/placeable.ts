/**
 * Before `run` creates a service: can any node of the cluster ever run its
 * tasks? A task with an image runs on Docker nodes, a `--command` without an
 * image on process nodes. When the cluster has nodes and none of the kind the
 * task needs, `run` is refused at once, saying why and how to fix it, and
 * nothing is created (the task would otherwise stay pending forever). A
 * cluster without nodes yet is not judged: workers may join later. Pure.
 */
import type { NodeRecord } from '../model/index.js';

/** What `run` does about placement: refuse (nothing is created), warn (created, waits), or nothing. */
export interface PlacementCheck {
  /** Why no node can ever take it, and how to fix that. */
  refuse?: string;
  /** Why it waits for now (every node of its kind is down). */
  warn?: string;
}

/** Judges `task` against the cluster's `nodes` (see the module comment). */
export function checkPlacement(task: { image?: string }, nodes: readonly Pick<NodeRecord, 'name' | 'runtime' | 'status'>[]): PlacementCheck {
  if (nodes.length === 0) return {};
  const needs = task.image ? 'docker' : 'process';
  const names = nodes.map((n) => n.name).join(', ');
  const able = nodes.filter((n) => (n.runtime ?? 'docker') === needs);
  if (able.length === 0) {
    return {
      refuse: needs === 'process'
        ? `no node can run it: a --command without --image runs on process nodes, and every node runs Docker (${names}). `
          + 'Run an image with --image I (a --command then gives its arguments), '
          + 'or add a process node (goat-cluster worker --runtime process --join …, or start --runtime process)'
        : `no node can run it: an --image runs on Docker nodes, and every node runs processes (${names}). `
          + 'Give a --command without --image, or add a Docker node (goat-cluster worker --runtime docker --join …)',
    };
  }
  if (able.every((n) => n.status === 'down')) {
    return { warn: `every ${needs} node is down now (${able.map((n) => n.name).join(', ')}); its tasks wait for one to come back` };
  }
  return {};
}
