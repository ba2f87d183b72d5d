// Structured logs: one JSON line per decision that matters, so CloudWatch Logs Insights can query them.

export type LogFields = Record<string, unknown>;

export function log(event: string, fields: LogFields = {}, level: 'INFO' | 'WARN' | 'ERROR' = 'INFO'): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === 'ERROR') console.error(line);
  else if (level === 'WARN') console.warn(line);
  else console.log(line);
}
