// goat/echo — an HTTP server for demos and tests, with no dependencies.
//   POST /        answers 200 with the request body (same content type)
//   GET  /        answers 200 "ok" (a health check target); GET /health too
// Listens on 0.0.0.0:$PORT (default 7777); SIGTERM / SIGINT close it and exit 0
// (it may run as PID 1 in a container, where signals have no default action).
// Runs as `node images/echo/server.js` or inside the goat/echo:latest image.
import http from 'node:http';
import process from 'node:process';
import console from 'node:console';
import { Buffer } from 'node:buffer';

const port = Number(process.env.PORT ?? 7777);

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    console.log(`${req.method} ${req.url}`);
    if (req.method === 'POST' && req.url === '/') {
      const body = Buffer.concat(chunks);
      res.writeHead(200, {
        'content-type': req.headers['content-type'] ?? 'application/octet-stream',
        'content-length': body.length,
      });
      res.end(body);
    } else if (req.method === 'GET' && (req.url === '/' || req.url === '/health')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
});

server.listen(port, '0.0.0.0', () => {
  console.log(`echo listening on ${port} (pid ${process.pid})`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    console.log(`echo: ${signal}, exiting`);
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
