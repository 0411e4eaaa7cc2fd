// Bot: the chat platform adapters (Slack, Discord, DingTalk, Feishu/Lark, the local web console), each a ChatPlatform plus its ingress.
// May import chat SDKs, src/core (its use cases, ports and card model), src/handlers, src/http, src/settings (config types) and src/domain; never src/store.
export { createSlackApp, type SlackApp } from './slack/slack-app.js';
export { createDiscord, type DiscordApp } from './discord/discord-app.js';
export { createConsole, type ConsoleApp } from './console/console-app.js';
export { createDingTalk, type DingTalkApp } from './dingtalk/dingtalk-app.js';
export { createFeishu, type FeishuApp } from './feishu/feishu-app.js';
