import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithAlertmanager, startAlertmanager, type RunningAlertmanager } from '../../support/alertmanager.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: {
    version: string;
    status: string;
    receiver: string;
    groupKey: string;
    alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string>; fingerprint: string; startsAt: string }>;
  };
}

const TOKEN = 'am-webhook-secret';

describeWithAlertmanager('Alertmanager 0.25 harness', () => {
  const received: Received[] = [];
  let receiver: Server;
  let am: RunningAlertmanager | undefined;

  const waitForWebhook = async (pred: (r: Received) => boolean, timeoutMs: number): Promise<Received> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = received.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(
          `no matching webhook within ${timeoutMs} ms; got ${JSON.stringify(received.map((r) => r.body.status))}\n${am?.output() ?? ''}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received['body'] });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    am = await startAlertmanager({ webhookUrl: `http://127.0.0.1:${port}/alertmanager`, bearerToken: TOKEN });
  });

  afterAll(async () => {
    await am?.stop();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()) ?? resolve());
  });

  it('delivers a firing then a resolved notification with the bearer token', { timeout: 15_000 }, async () => {
    const alert = {
      labels: { alertname: 'HarnessDiskFull', service: 'db', instance: 'db-1:9100', severity: 'critical' },
      annotations: { summary: 'disk almost full' },
    };
    await am!.fireAlerts([alert]);

    const firing = await waitForWebhook((r) => r.body.status === 'firing', 8000);
    expect(firing.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(firing.headers['content-type']).toMatch(/^application\/json/);
    expect(firing.headers['user-agent']).toMatch(/^Alertmanager\//);
    expect(firing.body.version).toBe('4');
    expect(firing.body.receiver).toBe('default');
    expect(firing.body.groupKey).toBe('{}:{alertname="HarnessDiskFull", service="db"}');
    expect(firing.body.alerts).toHaveLength(1);
    expect(firing.body.alerts[0]).toMatchObject({ status: 'firing', labels: alert.labels, annotations: alert.annotations });

    await am!.resolveAlerts([alert]);
    const resolved = await waitForWebhook((r) => r.body.status === 'resolved', 8000);
    expect(resolved.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(resolved.body.alerts[0]).toMatchObject({
      status: 'resolved',
      labels: alert.labels,
      fingerprint: firing.body.alerts[0]!.fingerprint,
      startsAt: firing.body.alerts[0]!.startsAt,
    });
  });
});
