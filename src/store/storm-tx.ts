import type { Severity } from '../core/domain.js';
import type { Storm, StormMember, StormPage, StormTx } from '../core/ports/storms.js';
import { parse, str, strOrNull, type Row } from './rows.js';
import type { SqlDriver } from './sql-driver.js';

const toStorm = (r: Row): Storm => ({
  id: Number(r.id),
  platform: str(r.platform),
  channel: str(r.channel),
  startedAt: str(r.started_at),
  endedAt: strOrNull(r.ended_at),
  released: Number(r.released) === 1,
  pages: parse<StormPage[]>(r.pages),
  postingSince: strOrNull(r.posting_since),
  joinedAt: str(r.joined_at),
});

/** The storms' part of a transaction, written once for SQLite and PostgreSQL (see sql-tx.ts). */
export class StormSqlTx implements StormTx {
  constructor(private readonly db: SqlDriver) {}

  async openStorms() {
    return (await this.db.all('SELECT * FROM chat_storms WHERE ended_at IS NULL ORDER BY id')).map(toStorm);
  }

  async startStorm(platform: string, channel: string, at: string) {
    // The partial unique index refuses a second open storm in the channel (another replica's).
    const row = await this.db.get(
      `INSERT INTO chat_storms (platform, channel, started_at, joined_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (platform, channel) WHERE ended_at IS NULL DO NOTHING RETURNING *`,
      [platform, channel, at, at],
    );
    const storm = row ?? (await this.db.get('SELECT * FROM chat_storms WHERE platform = ? AND channel = ? AND ended_at IS NULL', [platform, channel]));
    if (!storm) throw new Error(`no open storm in ${platform} ${channel} after starting one`);
    return toStorm(storm);
  }

  async getStorm(id: number) {
    const row = await this.db.get('SELECT * FROM chat_storms WHERE id = ?', [id]);
    return row ? toStorm(row) : undefined;
  }

  async joinStorm(stormId: number, incidentIds: readonly number[], at: string) {
    let added = 0;
    for (const id of incidentIds) {
      added += await this.db.run('INSERT INTO chat_storm_incidents (storm_id, incident_id) VALUES (?, ?) ON CONFLICT DO NOTHING', [stormId, id]);
    }
    if (added > 0) await this.db.run('UPDATE chat_storms SET joined_at = ? WHERE id = ?', [at, stormId]);
    return added;
  }

  async stormMembers(stormId: number): Promise<StormMember[]> {
    const rows = await this.db.all(
      `SELECT i.id, i.title, i.severity, i.status, i.common_labels, i.created_at, c.message_id, c.thread_id, s.platform, s.channel
       FROM chat_storm_incidents m
       JOIN chat_storms s ON s.id = m.storm_id
       JOIN incidents i ON i.id = m.incident_id
       LEFT JOIN card_messages c ON c.incident_id = i.id AND c.platform = s.platform AND c.channel = s.channel
       WHERE m.storm_id = ?
       ORDER BY i.id`,
      [stormId],
    );
    return rows.map((r) => {
      const labels = parse<Record<string, string>>(r.common_labels);
      const messageId = strOrNull(r.message_id);
      return {
        incidentId: Number(r.id),
        title: str(r.title),
        severity: str(r.severity) as Severity,
        status: str(r.status) as StormMember['status'],
        service: labels.service ?? labels.job ?? null,
        createdAt: str(r.created_at),
        card: messageId === null ? null : { platform: str(r.platform), channel: str(r.channel), messageId, threadId: str(r.thread_id) },
      };
    });
  }

  async inStorm(platform: string, channel: string, incidentId: number) {
    const row = await this.db.get(
      `SELECT 1 FROM chat_storm_incidents m JOIN chat_storms s ON s.id = m.storm_id
       WHERE m.incident_id = ? AND s.platform = ? AND s.channel = ?`,
      [incidentId, platform, channel],
    );
    return row !== undefined;
  }

  async savePages(stormId: number, pages: readonly StormPage[], postingSince: string | null) {
    await this.db.run('UPDATE chat_storms SET pages = ?, posting_since = ? WHERE id = ?', [JSON.stringify(pages), postingSince, stormId]);
  }

  async releaseStorm(stormId: number) {
    return (await this.db.run('UPDATE chat_storms SET released = 1 WHERE id = ? AND ended_at IS NULL', [stormId])) > 0;
  }

  async endStorm(stormId: number, at: string) {
    await this.db.run('UPDATE chat_storms SET ended_at = ? WHERE id = ? AND ended_at IS NULL', [at, stormId]);
  }

  async recentStorms(limit: number) {
    return (await this.db.all('SELECT * FROM chat_storms ORDER BY id DESC LIMIT ?', [limit])).map(toStorm);
  }
}
