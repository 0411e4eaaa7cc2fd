import pino, { type Logger } from 'pino';
import { redactData, type Redactor } from './domain/redact.js';

/**
 * JSON logs on stdout. Known secret-bearing keys are censored by path, and every string argument
 * goes through the redactor, so a token inside an error message is not printed either. `service`
 * tells the bot's lines from a runner's when both reach one collector.
 */
export function createLogger(level: string, redact: Redactor, destination?: pino.DestinationStream, service = 'chatops-bot'): Logger {
  return pino(
    {
      level,
      base: { service },
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', '*.token', '*.signingSecret', '*.botToken', 'token', 'password'],
        censor: '[REDACTED]',
      },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? redact(a) : a)) as Parameters<typeof method>);
        },
      },
      formatters: {
        log(object) {
          // Error messages and free-form fields can carry secrets too (a command line with a token, say).
          return redactData(object, redact) as Record<string, unknown>;
        },
      },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}

/**
 * Human-readable logs for a terminal (LOG_FORMAT=pretty, or auto on a TTY): one coloured line per
 * event. Loaded only then; JSON stays the format for collectors. Synchronous, so the last lines
 * before an exit are not lost.
 */
export async function prettyDestination(): Promise<pino.DestinationStream> {
  const { default: pretty } = await import('pino-pretty');
  return pretty({ sync: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' });
}
