import { Routes } from 'discord-api-types/v10';
import { cardIcon } from '../../core/card.js';
import { digestSummary, lineRoom, paginateDigest, type DigestLine, type DigestPage } from '../../core/digest.js';
import type { ChatDigest, MessageRef, PostOptions } from '../../core/ports/chat-platform.js';
import { DISCORD_LIMITS as L, escapeMarkdown, truncate } from './limits.js';
import { buttonRows, NO_MENTIONS, SEVERITY_COLOUR, type DiscordMessageBody } from './render.js';
import { t } from '../../core/i18n/index.js';

/** A page's lines go in one embed description (4,096), with room for the header on the first. */
const PAGE_CHARS = 4_000;
const HEADER_CHARS = 600;
/** Discord's edit route has a bucket per channel apart from message creates: 5 per 5 s. */
const EDITS_PER_SECOND = 1;

/** `https://discord.com/channels/<guild>/<channel>/<message>`; undefined without the guild id. */
export function discordMessageLink(ref: MessageRef, guildId: string | undefined): string | undefined {
  return guildId ? `https://discord.com/channels/${guildId}/${ref.channel}/${ref.messageId}` : undefined;
}

function lineText(line: DigestLine, guildId: string | undefined): string {
  const title = escapeMarkdown(truncate(line.title, 150));
  const service = line.service ? ` · ${escapeMarkdown(truncate(line.service, 60))}` : '';
  const status = line.status === 'resolved' ? t('digest.line.resolved') : '';
  const cardLink = line.card ? discordMessageLink(line.card, guildId) : undefined;
  const link = line.card ? (cardLink ? ` · [${t('digest.line.card')}](${cardLink})` : ` · ${t('digest.line.cardPosted')}`) : line.consoleUrl ? ` · [${t('digest.line.console')}](${line.consoleUrl})${t('digest.line.cardFollowsAfter')}` : ` · ${t('digest.line.cardFollows')}`;
  return `${cardIcon(line)} **#${line.incidentId}** ${title}${service}${status}${link}`;
}

/** One page as an embed (header in its title and first lines), the "Post cards" button on the first page. */
export function renderDigestPage(page: DigestPage, guildId: string | undefined): DiscordMessageBody {
  const d = page.digest;
  const first = page.page === 1;
  const lines = page.lines.map((l) => lineText(l, guildId));
  const head = first ? [escapeMarkdown(digestSummary(d)), ''] : [];
  const description = truncate([...head, ...lines].join('\n') || t('digest.allOnFirst'), L.embedDescription);
  const worst = d.bySeverity[0]?.severity ?? 'none';
  const title = first ? (d.ended ? t('digest.title.over') : t('digest.title.open')) : t('digest.part', { page: page.page, pages: page.pages });
  return {
    embeds: [{ title, description, color: SEVERITY_COLOUR[worst] }],
    components: first && d.button ? buttonRows([d.button]) : [],
    allowed_mentions: NO_MENTIONS,
  };
}

/** What the digest needs of the Discord platform: its create and edit calls (errors already mapped). */
export interface DiscordDigestCalls {
  create: (route: `/${string}`, body: unknown) => Promise<{ id: string }>;
  edit: (route: `/${string}`, body: unknown) => Promise<void>;
  guildId: string | undefined;
  nonce: (key: string | undefined) => object;
}

/** Storm digests on Discord: created with a nonce (a repeat is recognised), edited on their own route bucket. */
export function discordDigest(calls: DiscordDigestCalls): ChatDigest {
  return {
    editsPerSecond: EDITS_PER_SECOND,
    paginate: (digest) => paginateDigest(digest, { perPage: PAGE_CHARS, headerSize: HEADER_CHARS, lineSize: (line) => lineRoom(line, (l) => lineText(l, calls.guildId)) }),
    async post(channel: string, page: DigestPage, options: PostOptions = {}): Promise<MessageRef> {
      const message = await calls.create(Routes.channelMessages(channel), { ...renderDigestPage(page, calls.guildId), ...calls.nonce(options.deliveryKey) });
      return { platform: 'discord', channel, messageId: message.id, threadId: message.id };
    },
    async update(ref: MessageRef, page: DigestPage): Promise<void> {
      await calls.edit(Routes.channelMessage(ref.channel, ref.messageId), renderDigestPage(page, calls.guildId));
    },
  };
}
