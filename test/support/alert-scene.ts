/**
 * The scene of the end-to-end tests that fire real alerts: a chat platform's fake, the bot posting
 * to it, and the real Alertmanager delivering to the bot's webhook, grouping by alertname and
 * service (its harness's default), so a service's alerts make one incident.
 *
 *   let s: AlertScene;
 *   beforeAll(async () => {
 *     s = await startAlertScene(await slackDriver(), { runbooks: { 'shop.yaml': RUNBOOK } });
 *   }, 60_000);
 *   afterAll(() => s?.stop());
 */
import { startAlertmanager, type RunningAlertmanager } from './alertmanager.js';
import { WEBHOOK_TOKEN, startTestBot, type TestBot } from './bot-harness.js';
import type { ChatDriver } from './chat-drivers.js';

export interface AlertScene {
  chat: ChatDriver;
  t: TestBot;
  am: RunningAlertmanager;
  /** Stops Alertmanager first, so that nothing is delivered to a bot that is gone. */
  stop: () => Promise<void>;
}

/**
 * Takes `chat` over: it is closed with the scene, or at once if the scene fails to start (a
 * beforeAll that throws leaves nothing for its afterAll to stop).
 */
export async function startAlertScene(chat: ChatDriver, bot: { runbooks: Record<string, string>; env?: Record<string, string> }): Promise<AlertScene> {
  let t: TestBot | undefined;
  try {
    t = await startTestBot({ runbooks: bot.runbooks, env: { ...chat.botEnv(), ...bot.env } });
    chat.attach(t.url);
    const am = await startAlertmanager({ webhookUrl: `${t.url}/webhooks/alertmanager`, bearerToken: WEBHOOK_TOKEN });
    const started = t;
    return {
      chat,
      t: started,
      am,
      stop: async () => {
        await am.stop();
        await started.stop();
        await chat.close();
      },
    };
  } catch (err) {
    await t?.stop();
    await chat.close();
    throw err;
  }
}
