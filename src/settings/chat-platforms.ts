import type { Env } from './config.js';

// DingTalk's and Feishu's settings, built from the validated environment (src/settings/config.ts
// declares and validates the variables themselves).

/**
 * DingTalk: an enterprise internal app's robot (interactive cards, presses over Stream mode), or
 * one-way through a custom robot's webhook, whose card button opens the console.
 */
export type DingTalkConfig =
  | {
      mode: 'app';
      clientId: string;
      clientSecret: string;
      /** The robot's code; an internal app's robot has its Client ID. */
      robotCode: string;
      /** The alert group's openConversationId. */
      alertConversationId: string;
      apiUrl: string;
      oapiUrl: string;
      messagesPerMinute: number;
    }
  | { mode: 'webhook'; webhookUrl: string; webhookSecret: string | undefined; consoleUrl: string | undefined; messagesPerMinute: number; alertConversationId: string };

/** Feishu/Lark: a custom app's bot (interactive cards, presses over the long connection), or one-way through a custom bot's webhook. */
export type FeishuConfig =
  | { mode: 'app'; appId: string; appSecret: string; alertChatId: string; domain: string }
  | { mode: 'webhook'; webhookUrl: string; webhookSecret: string | undefined; consoleUrl: string | undefined; alertChatId: string };

/** The channel name a one-way platform's single group goes by (routes and schedules name it so). */
export const WEBHOOK_CHANNEL = 'webhook';

export function dingTalkConfig(env: Env): DingTalkConfig | undefined {
  if (env.DINGTALK_CLIENT_ID && env.DINGTALK_CLIENT_SECRET && env.DINGTALK_ALERT_CONVERSATION_ID) {
    return {
      mode: 'app',
      clientId: env.DINGTALK_CLIENT_ID,
      clientSecret: env.DINGTALK_CLIENT_SECRET,
      robotCode: env.DINGTALK_ROBOT_CODE ?? env.DINGTALK_CLIENT_ID,
      alertConversationId: env.DINGTALK_ALERT_CONVERSATION_ID,
      apiUrl: env.DINGTALK_API_URL.replace(/\/$/, ''),
      oapiUrl: env.DINGTALK_OAPI_URL.replace(/\/$/, ''),
      messagesPerMinute: env.DINGTALK_MESSAGES_PER_MINUTE,
    };
  }
  if (env.DINGTALK_WEBHOOK_URL) {
    return {
      mode: 'webhook',
      webhookUrl: env.DINGTALK_WEBHOOK_URL,
      webhookSecret: env.DINGTALK_WEBHOOK_SECRET,
      consoleUrl: env.CONSOLE_PUBLIC_URL,
      messagesPerMinute: env.DINGTALK_MESSAGES_PER_MINUTE,
      alertConversationId: WEBHOOK_CHANNEL,
    };
  }
  return undefined;
}

const FEISHU_DOMAINS: Record<string, string> = { feishu: 'https://open.feishu.cn', lark: 'https://open.larksuite.com' };

export function feishuConfig(env: Env): FeishuConfig | undefined {
  if (env.FEISHU_APP_ID && env.FEISHU_APP_SECRET && env.FEISHU_ALERT_CHAT_ID) {
    return { mode: 'app', appId: env.FEISHU_APP_ID, appSecret: env.FEISHU_APP_SECRET, alertChatId: env.FEISHU_ALERT_CHAT_ID, domain: (FEISHU_DOMAINS[env.FEISHU_DOMAIN] ?? env.FEISHU_DOMAIN).replace(/\/$/, '') };
  }
  if (env.FEISHU_WEBHOOK_URL) {
    return { mode: 'webhook', webhookUrl: env.FEISHU_WEBHOOK_URL, webhookSecret: env.FEISHU_WEBHOOK_SECRET, consoleUrl: env.CONSOLE_PUBLIC_URL, alertChatId: WEBHOOK_CHANNEL };
  }
  return undefined;
}

