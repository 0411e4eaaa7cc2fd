import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The bot's own Prometheus metrics, on a registry of its own so tests can create several bots. */
export function createMetrics(openIncidents: () => Promise<number>, inbox: () => Promise<{ waiting: number; failed: number }> = () => Promise.resolve({ waiting: 0, failed: 0 })) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'chatops_bot_' });
  return {
    registry,
    notificationsReceived: new Counter({
      name: 'chatops_notifications_received_total',
      help: 'Alertmanager notifications received, by result (stored, duplicate, rejected, queued: acknowledged into the inbox; counted again as stored or duplicate once recorded).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    incidentsOpen: new Gauge({
      name: 'chatops_incidents_open',
      help: 'Incidents currently firing.',
      registers: [registry],
      async collect() {
        this.set(await openIncidents());
      },
    }),
    inboxNotifications: new Gauge({
      name: 'chatops_inbox_notifications',
      help: 'Notifications in the inbox, by state (waiting: acknowledged, to be recorded; failed: put aside after repeated failures).',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        const counts = await inbox();
        this.set({ state: 'waiting' }, counts.waiting);
        this.set({ state: 'failed' }, counts.failed);
      },
    }),
    stepRuns: new Counter({
      name: 'chatops_step_runs_total',
      help: 'Runbook steps finished, by result (succeeded, failed, timed_out).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    runnerJobs: new Counter({
      name: 'chatops_runner_jobs_total',
      help: 'Steps run on runners, by runner and result (succeeded, failed, timed_out, refused, interrupted, cancelled).',
      labelNames: ['runner', 'result'] as const,
      registers: [registry],
    }),
    chatApiErrors: new Counter({
      name: 'chatops_chat_api_errors_total',
      help: 'Failed chat platform calls, by platform and operation.',
      labelNames: ['platform', 'operation'] as const,
      registers: [registry],
    }),
    ingestDuration: new Histogram({
      name: 'chatops_ingest_duration_seconds',
      help: 'Time from receiving an Alertmanager notification to answering it.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    stepDuration: new Histogram({
      name: 'chatops_step_duration_seconds',
      help: 'Runbook step execution time.',
      buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 1800],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
