import type { types, webApi } from '@slack/bolt';
import { cardIcon } from '../../core/card.js';
import { digestSummary, lineRoom, paginateDigest, type DigestLine, type DigestPage, type StormDigest } from '../../core/digest.js';
import type { ChatDigest, MessageRef, PostOptions } from '../../core/ports/chat-platform.js';
import { deliveryMetadata } from './delivery.js';
import { toDeliveryError } from './errors.js';
import { SLACK_LIMITS as L, escapeMrkdwn, truncate } from './limits.js';
import { renderButton } from './render.js';
import { t } from '../../core/i18n/index.js';

/**
 * Lines of one digest message, in characters of mrkdwn. Slack refuses blocks much over 13,000
 * characters of JSON (msg_blocks_too_long); escaping and the block structure add to the text, so
 * a page's lines stay well under that.
 */
const PAGE_CHARS = 9_000;
const HEADER_CHARS = 1_000;
/** A line's JSON escaping and share of its section block, over its text. */
const LINE_OVERHEAD = 12;

/** A link to a posted message: slack.com/archives redirects to the workspace the reader is signed in to. */
export function slackMessageLink(ref: MessageRef): string {
  return `https://slack.com/archives/${ref.channel}/p${ref.messageId.replace('.', '')}`;
}

function lineText(line: DigestLine): string {
  const title = truncate(escapeMrkdwn(line.title), 150);
  const service = line.service ? ` · ${truncate(escapeMrkdwn(line.service), 60)}` : '';
  const status = line.status === 'resolved' ? t('digest.line.resolved') : '';
  const link = line.card ? ` · <${slackMessageLink(line.card)}|${t('digest.line.card')}>` : line.consoleUrl ? ` · <${line.consoleUrl}|${t('digest.line.console')}>${t('digest.line.cardFollowsAfter')}` : ` · ${t('digest.line.cardFollows')}`;
  return `${cardIcon(line)} #${line.incidentId} ${title}${service}${status}${link}`;
}

function headerText(digest: StormDigest): string {
  const title = `*${digest.ended ? t('digest.title.over') : t('digest.title.open')}*`;
  return `${title}: ${escapeMrkdwn(digestSummary(digest))}`;
}

/** One page as Block Kit: the header and button on the first page, lines in sections of at most 3,000 characters. */
export function renderDigestPage(page: DigestPage): { text: string; blocks: types.KnownBlock[] } {
  const blocks: types.KnownBlock[] = [];
  const header = page.page === 1 ? headerText(page.digest) : `_${t('digest.part', { page: page.page, pages: page.pages })}_`;
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(header, L.sectionText) } });
  if (page.page === 1 && page.digest.button) blocks.push({ type: 'actions', block_id: 'digest-actions', elements: [renderButton(page.digest.button)] });
  let section: string[] = [];
  let length = 0;
  const flush = () => {
    if (section.length > 0) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: section.join('\n') } });
    section = [];
    length = 0;
  };
  for (const line of page.lines) {
    const text = truncate(lineText(line), L.sectionText);
    if (length + text.length + 1 > L.sectionText || blocks.length + 1 >= L.blocks) flush();
    section.push(text);
    length += text.length + 1;
  }
  flush();
  if (page.lines.length === 0 && page.page > 1) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: t('digest.allOnFirst') }] });
  const text = truncate(page.page === 1 ? escapeMrkdwn(digestSummary(page.digest)) : t('digest.part', { page: page.page, pages: page.pages }), L.messageText);
  return { text, blocks: blocks.slice(0, L.blocks) };
}

/** Storm digests on Slack: posted with chat.postMessage (keyed like a card), edited with chat.update. */
export function slackDigest(postClient: webApi.WebClient, client: webApi.WebClient): ChatDigest {
  return {
    paginate: (digest) =>
      paginateDigest(digest, { perPage: PAGE_CHARS, headerSize: HEADER_CHARS, lineSize: (line) => lineRoom(line, lineText) + LINE_OVERHEAD }),
    async post(channel: string, page: DigestPage, options: PostOptions = {}): Promise<MessageRef> {
      let res;
      try {
        res = await postClient.chat.postMessage({ channel, unfurl_links: false, ...renderDigestPage(page), ...deliveryMetadata(options.deliveryKey) });
      } catch (error) {
        throw toDeliveryError('chat.postMessage', error);
      }
      if (!res.ts) throw toDeliveryError('chat.postMessage', new Error('no ts in answer'));
      return { platform: 'slack', channel: res.channel ?? channel, messageId: res.ts, threadId: res.ts };
    },
    async update(ref: MessageRef, page: DigestPage): Promise<void> {
      try {
        await client.chat.update({ channel: ref.channel, ts: ref.messageId, ...renderDigestPage(page) });
      } catch (error) {
        throw toDeliveryError('chat.update', error);
      }
    },
  };
}
