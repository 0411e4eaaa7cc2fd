// HTTP: the bot's small router and its request and response helpers.
// May import node:http, pino and src/domain (its errors); every ingress uses it.
export { readBody } from './read-body.js';
export { sendError, sendJson } from './respond.js';
export { createRouter, type Route } from './router.js';
