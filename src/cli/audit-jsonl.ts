/**
 * One audit event as a JSON Lines record for `audit:export`, with secrets redacted.
 *
 * Redaction happens on export only: the stored record and its hash stay as written. The exported
 * `prevHash` and `hash` are the stored ones, so a line whose text or data was redacted no longer
 * hashes to its `hash`; such lines carry `redacted: true` (the others `redacted: false`), and the
 * chain itself is verified on the database with `audit:verify`, not on an export.
 */
import type { AuditEvent } from '../core/domain.js';
import { redactData, type Redactor } from '../domain/redact.js';
import type { AuditRow } from './audit-store.js';

export type ExportedEvent = Omit<AuditEvent, 'data'> & {
  /** The stored JSON data; the raw column text when it is not valid JSON (an edited record). */
  data: unknown;
  /** Whether redaction changed text or data (then `hash` no longer matches the exported content). */
  redacted: boolean;
};

export function exportedEvent(row: AuditRow, redact: Redactor): ExportedEvent {
  let stored: unknown;
  let data: unknown;
  try {
    stored = JSON.parse(row.rawData) as unknown;
    data = redactData(stored, redact);
  } catch {
    stored = row.rawData;
    data = redact(row.rawData);
  }
  const text = redact(row.text);
  const redacted = text !== row.text || JSON.stringify(data) !== JSON.stringify(stored);
  return {
    seq: row.seq,
    at: row.at,
    incidentId: row.incidentId,
    actor: row.actor,
    kind: row.kind,
    text,
    data,
    prevHash: row.prevHash,
    hash: row.hash,
    redacted,
  };
}
