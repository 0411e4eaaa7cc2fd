import { cardIcon } from '../../core/card.js';
import { digestSummary, type ChannelDigest, type DigestLine } from '../../core/digest.js';
import { t } from '../../core/i18n/index.js';
import { html, type Html } from './html.js';

/**
 * The storm digests of the chat channels, above the console's incident list: the counts line the
 * channel's digest starts with, then each listed incident (most severe, then newest, first) with a
 * link to its console page and whether its card is in the channel yet. The console has no pace and
 * never storms itself; it shows the chat storms so that the three views agree.
 */
export function stormDigestsHtml(storms: readonly ChannelDigest[]): Html | '' {
  if (storms.length === 0) return '';
  return html`<section class="flash storm-digest" id="storm-digest">${storms.map(
    (s) => html`<div class="storm" data-platform="${s.platform}" data-channel="${s.channel}" data-storm="${String(s.digest.stormId)}">
  <h2>${t('console.storm.title', { platform: s.platform, channel: s.channel })}</h2>
  <p class="digest-summary">${digestSummary(s.digest)}</p>
  <ul>${s.digest.lines.map((line) => lineHtml(line))}</ul>
</div>`,
  )}</section>`;
}

function lineHtml(line: DigestLine): Html {
  const state = line.card ? t('console.storm.carded', { platform: line.card.platform }) : t('digest.line.cardFollows');
  return html`<li data-incident="${String(line.incidentId)}" data-carded="${String(line.card !== null)}">${cardIcon(line)} <a href="/console/incidents/${String(line.incidentId)}">#${String(line.incidentId)} ${line.title}</a>${line.service ? html` · ${line.service}` : ''}${line.status === 'resolved' ? t('digest.line.resolved') : ''} · <span class="muted">${state}</span></li>`;
}
