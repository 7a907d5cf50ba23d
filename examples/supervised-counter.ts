/**
 * A Node service supervising its own nact actors with Goat:
 * `npm run build && node dist/examples/supervised-counter.js`.
 */
import { start, stop } from 'nact';
import { actorChild, startSupervisor, type Reply } from '../lib/index.js';

type Msg = { type: 'add'; n: number } | { type: 'boom' } | { type: 'get'; reply: Reply<number> };

const system = start();
const sup = await startSupervisor(system, {
  id: 'app',
  strategy: 'one_for_one',
  maxRestarts: 3,
  windowMs: 10_000,
  children: [
    actorChild<number, Msg>({
      id: 'counter',
      restart: 'permanent',
      backoff: { initialMs: 100, factor: 2, maxMs: 5_000, jitter: 0.2 },
      init: () => 0,
      receive: (total, msg) => {
        if (msg.type === 'boom') throw new Error('counter exploded');
        if (msg.type === 'get') msg.reply(total);
        return msg.type === 'add' ? total + msg.n : total;
      },
    }),
  ],
});
sup.subscribe((e) => console.log(`#${e.seq} ${e.type} ${e.path}${e.type === 'restart_scheduled' ? ` in ${e.delayMs} ms` : ''}`));

const counter = sup.ref('counter');
counter.send({ type: 'add', n: 2 });
counter.send({ type: 'boom' });
counter.send({ type: 'add', n: 40 }); // kept while the counter restarts
console.log('total =', await counter.ask<number>((reply) => ({ type: 'get', reply }), 1_000));
console.log(JSON.stringify(sup.snapshot().children?.[0]));
await sup.stop();
stop(system);
