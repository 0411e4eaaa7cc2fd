import type { DeliveryTarget, Labels } from './domain.js';
import { labelsMatch } from './label-match.js';
import type { Routes } from '../settings/routes.js';

/**
 * Which channels an incident goes to, by its labels: every route whose `match` fits adds its
 * channels, per platform; a platform no route names for this incident uses its default channel.
 * A deployment can so send database alerts to #db on Slack and #ops on Discord, and everything
 * else to the defaults.
 */
/** Builds the router for the enabled platforms; `defaults` maps each enabled platform to its default channel. */
export function createRouter(routes: Routes, defaults: Readonly<Record<string, string>>): (labels: Labels) => DeliveryTarget[] {
  return (labels) => {
    const picked = new Map<string, Set<string>>();
    for (const route of routes.routes) {
      if (!labelsMatch(route.match, labels)) continue;
      for (const platform of ['slack', 'discord', 'dingtalk', 'feishu'] as const) {
        const list = route[platform];
        if (!list || defaults[platform] === undefined) continue;
        const set = picked.get(platform) ?? new Set<string>();
        for (const c of list) set.add(c);
        picked.set(platform, set);
      }
    }
    return Object.entries(defaults).flatMap(([platform, fallback]) => [...(picked.get(platform) ?? [fallback])].map((channel) => ({ platform, channel })));
  };
}
