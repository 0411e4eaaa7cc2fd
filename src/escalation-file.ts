import { defaultEscalation, escalationSchema, type EscalationConfig } from './core/escalation-schema.js';
import { loadYamlFile } from './yaml-file.js';

/** Escalation of unacknowledged incidents, from ESCALATION_FILE; none: the built-in timings, nobody mentioned. */
export async function loadEscalation(file: string | undefined): Promise<EscalationConfig> {
  return file === undefined ? defaultEscalation() : loadYamlFile(file, escalationSchema, 'escalation');
}
