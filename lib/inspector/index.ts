/** The live supervision-tree inspector (`goat-cluster tree --watch`): rendering, keys, data and the loop. */
export { render, visibleRows, hasCountdown, seconds, serviceText, slotSegments, type RenderInput, type Row, type ViewState } from './render.js';
export { applyKey, initialState, parseKeys, type InspectorState, type Key, type KeyResult } from './keys.js';
export { frame, Screen, ESC } from './screen.js';
export { startSource, type Snapshot, type SourceListener, type SourceOptions } from './source.js';
export { paint, stripAnsi, truncate, type Segment, type Style } from './text.js';
export { watchTree, type WatchOptions } from './watch.js';
