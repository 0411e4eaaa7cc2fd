import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRouter } from '../../../src/core/routing.js';
import { loadRoutes, routesSchema } from '../../../src/settings/routes.js';

const routes = routesSchema.parse({
  routes: [
    { match: { service: 'gitcortex' }, slack: 'C0GIT', discord: ['900'] },
    { match: { severity: ['critical', 'page'] }, slack: ['C0CRIT'] },
    { match: { team: 'db' }, discord: '901' },
  ],
});

describe('routing incidents to channels by labels', () => {
  const both = createRouter(routes, { slack: 'C0DEFAULT', discord: '100' });

  it('sends an incident no route names to each platform\'s default channel', () => {
    expect(both({ service: 'other' })).toEqual([
      { platform: 'slack', channel: 'C0DEFAULT' },
      { platform: 'discord', channel: '100' },
    ]);
  });

  it('unions the channels of every matching route, per platform, falling back per platform', () => {
    expect(both({ service: 'gitcortex', severity: 'critical' })).toEqual([
      { platform: 'slack', channel: 'C0GIT' },
      { platform: 'slack', channel: 'C0CRIT' },
      { platform: 'discord', channel: '900' },
    ]);
    expect(both({ team: 'db', severity: 'warning' })).toEqual([
      { platform: 'slack', channel: 'C0DEFAULT' },
      { platform: 'discord', channel: '901' },
    ]);
  });

  it('ignores routes of platforms that are not enabled', () => {
    const slackOnly = createRouter(routes, { slack: 'C0DEFAULT' });
    expect(slackOnly({ team: 'db' })).toEqual([{ platform: 'slack', channel: 'C0DEFAULT' }]);
    expect(createRouter(routes, {})({ service: 'gitcortex' })).toEqual([]);
  });

  it('loads a routes file and names the file and path of a problem', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'routes-'));
    try {
      const good = path.join(dir, 'routes.yaml');
      await writeFile(good, 'routes:\n  - match: { service: db }\n    slack: C0DB\n');
      expect((await loadRoutes(good)).routes[0]?.slack).toEqual(['C0DB']);
      await writeFile(good, 'routes:\n  - match: { service: db }\n    teams: x\n');
      await expect(loadRoutes(good)).rejects.toThrow(`${good}: routes.0: Unrecognized key: "teams"`);
      expect(await loadRoutes(undefined)).toEqual({ routes: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('routes DingTalk groups and Feishu chats like any other platform', () => {
    const cn = createRouter(routesSchema.parse({ routes: [{ match: { team: 'db' }, dingtalk: 'cidDB==', feishu: ['oc_db', 'oc_dba'] }] }), { dingtalk: 'cidALL==', feishu: 'oc_all' });
    expect(cn({ team: 'db' })).toEqual([
      { platform: 'dingtalk', channel: 'cidDB==' },
      { platform: 'feishu', channel: 'oc_db' },
      { platform: 'feishu', channel: 'oc_dba' },
    ]);
    expect(cn({ team: 'web' })).toEqual([
      { platform: 'dingtalk', channel: 'cidALL==' },
      { platform: 'feishu', channel: 'oc_all' },
    ]);
  });
});
