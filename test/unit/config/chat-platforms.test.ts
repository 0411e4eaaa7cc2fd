import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/settings/config.js';

describe('DingTalk and Feishu settings', () => {
  it('enables the DingTalk app robot with its three settings; the robot code defaults to the Client ID', () => {
    const config = loadConfig({ DINGTALK_CLIENT_ID: 'dingabc', DINGTALK_CLIENT_SECRET: 'secret-of-the-app', DINGTALK_ALERT_CONVERSATION_ID: 'cid1==' });
    expect(config.dingtalk).toEqual({
      mode: 'app',
      clientId: 'dingabc',
      clientSecret: 'secret-of-the-app',
      robotCode: 'dingabc',
      alertConversationId: 'cid1==',
      apiUrl: 'https://api.dingtalk.com',
      oapiUrl: 'https://oapi.dingtalk.com',
      messagesPerMinute: 20,
    });
    expect(config.secrets).toContain('secret-of-the-app');
    expect(loadConfig({}).dingtalk).toBeUndefined();
  });

  it('names what is missing, and refuses the app and the webhook at once', () => {
    expect(() => loadConfig({ DINGTALK_CLIENT_ID: 'dingabc' })).toThrow(/DINGTALK_CLIENT_SECRET: required when DINGTALK_CLIENT_ID is set/);
    expect(() => loadConfig({ FEISHU_APP_ID: 'cli_a1b2c3d4e5f60718', FEISHU_APP_SECRET: 's' })).toThrow(/FEISHU_ALERT_CHAT_ID: required/);
    expect(() =>
      loadConfig({ DINGTALK_CLIENT_ID: 'd', DINGTALK_CLIENT_SECRET: 's', DINGTALK_ALERT_CONVERSATION_ID: 'c', DINGTALK_WEBHOOK_URL: 'https://oapi.dingtalk.com/robot/send?access_token=abcdefgh' }),
    ).toThrow(/DINGTALK_WEBHOOK_URL: set either DINGTALK_CLIENT_ID .* or DINGTALK_WEBHOOK_URL/);
  });

  it('takes the webhooks as one-way platforms and keeps their tokens out of logs', () => {
    const config = loadConfig({
      DINGTALK_WEBHOOK_URL: 'https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef',
      DINGTALK_WEBHOOK_SECRET: 'SECdingtalk',
      FEISHU_WEBHOOK_URL: 'https://open.feishu.cn/open-apis/bot/v2/hook/aaaa-bbbb-cccc',
      CONSOLE_PUBLIC_URL: 'https://ops.example.com',
    });
    expect(config.dingtalk).toMatchObject({ mode: 'webhook', webhookSecret: 'SECdingtalk', consoleUrl: 'https://ops.example.com', alertConversationId: 'webhook' });
    expect(config.feishu).toMatchObject({ mode: 'webhook', webhookSecret: undefined, alertChatId: 'webhook' });
    expect(config.secrets).toEqual(expect.arrayContaining(['0123456789abcdef', 'SECdingtalk', 'aaaa-bbbb-cccc']));
  });

  it('reads FEISHU_DOMAIN as feishu, lark or a base URL', () => {
    const app = { FEISHU_APP_ID: 'cli_a1b2c3d4e5f60718', FEISHU_APP_SECRET: 's', FEISHU_ALERT_CHAT_ID: 'oc_1' };
    expect(loadConfig(app).feishu).toMatchObject({ mode: 'app', domain: 'https://open.feishu.cn' });
    expect(loadConfig({ ...app, FEISHU_DOMAIN: 'lark' }).feishu).toMatchObject({ domain: 'https://open.larksuite.com' });
    expect(loadConfig({ ...app, FEISHU_DOMAIN: 'http://127.0.0.1:9999/' }).feishu).toMatchObject({ domain: 'http://127.0.0.1:9999' });
    expect(() => loadConfig({ ...app, FEISHU_DOMAIN: 'feishu.cn' })).toThrow(/FEISHU_DOMAIN: must be feishu, lark or the open platform's base URL/);
  });
});
