import { randomBytes } from 'node:crypto';
import type { AlertmanagerNotification } from '../../core/alertmanager-payload.js';
import { ZERO_TIME } from '../../core/alertmanager-payload.js';

/**
 * The console's "Fire a sample alert": an Alertmanager v4 notification as Alertmanager would send
 * it for the demo shop being down. Each one is a new group (its own incident) with a fresh
 * fingerprint and start time, so pressing twice gives two incidents to play with.
 */
export function sampleAlert(options: { now: Date; demoPort: number; id?: string }): AlertmanagerNotification {
  const id = options.id ?? randomBytes(8).toString('hex');
  const instance = `127.0.0.1:${options.demoPort}`;
  const labels = { alertname: 'ShopDown', service: 'demo-shop', severity: 'critical', instance };
  const annotations = {
    summary: 'The demo shop is down',
    description: `http://${instance}/ has not answered its health check for 1 minute; checkouts are failing.`,
  };
  return {
    version: '4',
    groupKey: `{}/{console="sample"}:{alertname="ShopDown", service="demo-shop", sample="${id}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'chatops-console',
    groupLabels: { alertname: 'ShopDown', service: 'demo-shop' },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: '',
    alerts: [
      {
        status: 'firing',
        labels,
        annotations,
        startsAt: options.now.toISOString(),
        endsAt: ZERO_TIME,
        generatorURL: '',
        fingerprint: id,
      },
    ],
  };
}
