// Handlers: platform-neutral ingress (the Alertmanager webhook, button presses, commands, audit reads).
// May import src/core through its use cases (core/use-cases.ts) and ports, src/http, src/domain and metrics.
export { handleAlertmanagerWebhook, type WebhookDeps } from './alertmanager-webhook.js';
export { handleButtonPress, type ButtonPress } from './button-press.js';
export { handleCommand, type CommandRequest } from './command.js';
export { handleIncidentAudit, handleIncidentTimeline } from './incident-audit.js';
