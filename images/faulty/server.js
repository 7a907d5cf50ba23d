// goat/faulty — an HTTP server that fails on purpose, for failure tests.
// Like goat/echo it listens on 0.0.0.0:$PORT (default 7777), echoes POST / and
// answers GET / and GET /health with 200, until a fault it was asked for:
//
//   --exit-at-start N     FAULTY_EXIT_AT_START=N    exit with code N before listening
//   --exit-after S        FAULTY_EXIT_AFTER=S       exit after S seconds (fractions ok) ...
//   --exit-code N         FAULTY_EXIT_CODE=N        ... with code N (default 1)
//   --unhealthy-after S   FAULTY_UNHEALTHY_AFTER=S  GET /health answers 500 after S seconds
//   --hang                FAULTY_HANG=1             never listen, ignore SIGTERM/SIGINT
//   --ignore-sigterm      FAULTY_IGNORE_SIGTERM=1   serve, but ignore SIGTERM/SIGINT
//   --alloc-mb N          FAULTY_ALLOC_MB=N         allocate and touch N MB (OOM tests) ...
//   --alloc-after S       FAULTY_ALLOC_AFTER=S      ... after S seconds (default: at start)
//   --spawn-child         FAULTY_SPAWN_CHILD=1      start an idle child process first
//                                                   and print "child pid <pid>"
//   --print N             FAULTY_PRINT=N            print "line <i>" to stdout N times (0: forever),
//                                                   every 10th also "err <i>" to stderr ...
//   --print-every MS      FAULTY_PRINT_EVERY=MS     ... one every MS ms (default: as fast as stdout takes them)
// Arguments win over environment variables. Runs as
// `node images/faulty/server.js ARGS` or as the goat/faulty:latest image
// (whose entrypoint is this file, so container arguments are these ARGS).
import http from 'node:http';
import process from 'node:process';
import console from 'node:console';
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { setTimeout, setInterval } from 'node:timers';

const FLAGS = {
  '--exit-at-start': 'FAULTY_EXIT_AT_START',
  '--exit-after': 'FAULTY_EXIT_AFTER',
  '--exit-code': 'FAULTY_EXIT_CODE',
  '--unhealthy-after': 'FAULTY_UNHEALTHY_AFTER',
  '--alloc-mb': 'FAULTY_ALLOC_MB',
  '--alloc-after': 'FAULTY_ALLOC_AFTER',
  '--print': 'FAULTY_PRINT',
  '--print-every': 'FAULTY_PRINT_EVERY',
};
const SWITCHES = {
  '--hang': 'FAULTY_HANG',
  '--ignore-sigterm': 'FAULTY_IGNORE_SIGTERM',
  '--spawn-child': 'FAULTY_SPAWN_CHILD',
};

/** Options from the environment, overridden by the command line. */
function parseOptions(argv, env) {
  const options = {};
  for (const [flag, name] of Object.entries(FLAGS)) if (env[name] !== undefined) options[flag] = env[name];
  for (const [flag, name] of Object.entries(SWITCHES)) if (env[name] === '1' || env[name] === 'true') options[flag] = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg in SWITCHES) options[arg] = true;
    else if (arg in FLAGS && i + 1 < argv.length) options[arg] = argv[++i];
    else {
      console.error(`faulty: unknown argument ${arg}`);
      process.exit(2);
    }
  }
  return options;
}

const options = parseOptions(process.argv.slice(2), process.env);
const port = Number(process.env.PORT ?? 7777);
const number = (flag) => (options[flag] === undefined ? undefined : Number(options[flag]));

if (number('--exit-at-start') !== undefined) {
  console.error(`faulty: failing at start with code ${number('--exit-at-start')}`);
  process.exit(number('--exit-at-start'));
}

const ignoreSignals = options['--hang'] || options['--ignore-sigterm'];
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (ignoreSignals) {
      console.log(`faulty: ${signal} ignored`);
      return;
    }
    console.log(`faulty: ${signal}, exiting`);
    process.exit(0);
  });
}

if (options['--spawn-child']) {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  console.log(`child pid ${child.pid}`);
}

const held = [];
function allocate() {
  console.log(`faulty: allocating ${number('--alloc-mb')} MB`);
  for (let i = 0; i < number('--alloc-mb'); i++) held.push(Buffer.alloc(1024 * 1024, 1));
  console.log(`faulty: holding ${held.length} MB`);
}
if (number('--alloc-mb') !== undefined) {
  if (number('--alloc-after') === undefined) allocate();
  else setTimeout(allocate, number('--alloc-after') * 1000);
}

if (options['--hang']) {
  console.log('faulty: hanging');
  setInterval(() => {}, 1 << 30);
} else {
  const startedAt = Date.now();
  const unhealthyAfter = number('--unhealthy-after');
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const unhealthy = unhealthyAfter !== undefined && Date.now() - startedAt >= unhealthyAfter * 1000;
      if (req.method === 'POST' && req.url === '/') {
        res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
        res.end(Buffer.concat(chunks));
      } else if (req.method === 'GET' && req.url === '/health' && unhealthy) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('unhealthy\n');
      } else if (req.method === 'GET' && (req.url === '/' || req.url === '/health')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
      }
    });
  });
  server.listen(port, '0.0.0.0', () => console.log(`faulty listening on ${port} (pid ${process.pid})`));
}

if (number('--print') !== undefined) {
  const total = number('--print');
  const every = number('--print-every');
  let i = 0;
  const one = () => {
    if (i % 10 === 0) process.stderr.write(`err ${i}\n`);
    return process.stdout.write(`line ${i++}\n`);
  };
  if (every !== undefined) {
    const timer = setInterval(() => {
      one();
      if (total > 0 && i >= total) clearInterval(timer);
    }, every);
  } else {
    const burst = () => {
      while (total === 0 || i < total) {
        if (!one()) return process.stdout.once('drain', burst);
      }
    };
    burst();
  }
}

const exitAfter = number('--exit-after');
if (exitAfter !== undefined) {
  const code = number('--exit-code') ?? 1;
  setTimeout(() => {
    console.error(`faulty: exiting with code ${code} after ${exitAfter} s`);
    process.exit(code);
  }, exitAfter * 1000);
}
