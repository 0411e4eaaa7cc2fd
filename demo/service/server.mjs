// demo-shop: a tiny web shop for trying the bot. It is meant to be broken and fixed.
//
//   GET  /health   200 {"status":"ok"}, or 500 while the flag file <data>/broken exists
//   GET  /orders   {"orders": <count>, "latest": …}
//   POST /orders   adds an order
//   GET  /         what this is
//
// A real SQLite database (<data>/shop.db, WAL mode) through better-sqlite3, the bot's own
// dependency. While healthy it takes a simulated order every few seconds, so the WAL grows and a
// checkpoint or a backup has something to do. Start and stop it with ctl.mjs, not by hand.
//
// Environment: DEMO_PORT (default 3080), DEMO_DATA_DIR (default data/demo). It listens on
// 127.0.0.1 only.
import console from 'node:console';
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { fileURLToPath, URL } from 'node:url';
import Database from 'better-sqlite3';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.resolve(process.env.DEMO_DATA_DIR ?? path.join(here, '..', '..', 'data', 'demo'));
const port = Number(process.env.DEMO_PORT ?? '3080');
const brokenFlag = path.join(dataDir, 'broken');
const ITEMS = ['tea', 'coffee', 'mug', 'teapot', 'biscuits', 'kettle'];

mkdirSync(dataDir, { recursive: true });
const db = new Database(path.join(dataDir, 'shop.db'));
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 2000');
db.exec(`CREATE TABLE IF NOT EXISTS orders (
  id INTEGER PRIMARY KEY,
  item TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  created_at TEXT NOT NULL
)`);
const insertOrder = db.prepare('INSERT INTO orders (item, quantity, created_at) VALUES (?, ?, ?)');
/** @type {import('better-sqlite3').Statement<[], { n: number }>} */
const countOrders = db.prepare('SELECT count(*) AS n FROM orders');
const latestOrder = db.prepare('SELECT id, item, quantity, created_at FROM orders ORDER BY id DESC LIMIT 1');

/** One order of something random. */
function placeOrder() {
  const item = ITEMS[Math.floor(Math.random() * ITEMS.length)] ?? 'tea';
  const quantity = 1 + Math.floor(Math.random() * 3);
  const { lastInsertRowid } = insertOrder.run(item, quantity, new Date().toISOString());
  return { id: Number(lastInsertRowid), item, quantity };
}

if (Number(countOrders.get()?.n ?? 0) === 0) {
  for (let i = 0; i < 25; i++) placeOrder();
}

const broken = () => existsSync(brokenFlag);

/** @param {http.ServerResponse} res @param {number} status @param {unknown} body */
function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    if (req.method === 'GET' && url.pathname === '/health') {
      if (broken()) {
        send(res, 500, { status: 'error', error: 'orders database unavailable (demo: the flag file `broken` exists in the data folder)' });
        return;
      }
      db.prepare('SELECT 1').get();
      send(res, 200, { status: 'ok' });
      return;
    }
    if (url.pathname === '/orders' && (req.method === 'GET' || req.method === 'POST')) {
      if (broken()) {
        send(res, 503, { error: 'orders database unavailable' });
        return;
      }
      if (req.method === 'POST') {
        send(res, 201, placeOrder());
        return;
      }
      send(res, 200, { orders: Number(countOrders.get()?.n ?? 0), latest: latestOrder.get() ?? null });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`demo-shop: GET /health, GET /orders, POST /orders (${broken() ? 'BROKEN' : 'healthy'})\n`);
      return;
    }
    send(res, 404, { error: 'not found' });
  } catch (error) {
    send(res, 500, { status: 'error', error: error instanceof Error ? error.message : String(error) });
  }
});

// Simulated customers: one order every few seconds while the shop works.
const traffic = setInterval(() => {
  if (!broken()) placeOrder();
}, 3000);
traffic.unref();

let closing = false;
/** @param {string} signal */
function shutdown(signal) {
  if (closing) return;
  closing = true;
  console.log(`${new Date().toISOString()} demo-shop: ${signal}, shutting down`);
  clearInterval(traffic);
  server.close(() => {
    db.close();
    process.exit(0);
  });
  server.closeAllConnections();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.on('error', (error) => {
  const hint = /** @type {NodeJS.ErrnoException} */ (error).code === 'EADDRINUSE' ? ': the port is in use; set DEMO_PORT to a free port' : '';
  console.error(`${new Date().toISOString()} demo-shop: cannot listen on 127.0.0.1:${port}: ${error.message}${hint}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`${new Date().toISOString()} demo-shop: listening on http://127.0.0.1:${port} (pid ${process.pid}, data ${dataDir}${broken() ? ', BROKEN' : ''})`);
});
