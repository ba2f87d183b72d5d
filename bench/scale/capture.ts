// What the handler does besides EC2, seen from inside the bench's process: its log output (counted, and the
// instances it names as failed kept) and its S3 requests by command.
import { S3Client } from '@aws-sdk/client-s3';

/** The handler's console output: counted, and the instances it names as failed or not reached kept. */
export class LogCapture {
  bytes = 0;
  lines = 0;
  readonly failedInstances = new Set<string>();
  private restore?: () => void;

  start(): void {
    const original = { log: console.log, info: console.info, warn: console.warn, error: console.error, write: process.stdout.write };
    const collect = (...args: unknown[]) => this.take(args.map(String).join(' '));
    console.log = console.info = console.warn = console.error = collect;
    // Powertools writes its embedded-metric lines to process.stdout through a Console of its own.
    process.stdout.write = ((chunk: string | Uint8Array) => { this.take(String(chunk)); return true; }) as typeof process.stdout.write;
    this.restore = () => {
      Object.assign(console, { log: original.log, info: original.info, warn: original.warn, error: original.error });
      process.stdout.write = original.write;
    };
  }

  stop(): void {
    this.restore?.();
    this.restore = undefined;
  }

  private take(text: string): void {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      this.lines += 1;
      this.bytes += Buffer.byteLength(line) + 1;
      if (line.includes('"snapshot-failed"') || line.includes('"snapshot-not-reached"') || line.includes('"plan-failed"')) {
        const id = (JSON.parse(line) as { instanceId?: string }).instanceId;
        if (id) this.failedInstances.add(id);
      }
    }
  }
}

/** S3 requests of the handler, by command, counted on the client class it shares with this script. */
export const s3Calls: Record<string, number> = {};

export function countS3Calls(): void {
  const send = S3Client.prototype.send;
  S3Client.prototype.send = function (this: S3Client, command: { constructor: { name: string } }, ...rest: unknown[]) {
    const name = command.constructor.name.replace(/Command$/, '');
    s3Calls[name] = (s3Calls[name] ?? 0) + 1;
    return (send as (...args: unknown[]) => unknown).call(this, command, ...rest);
  } as typeof S3Client.prototype.send;
}

export function resetS3Calls(): void {
  for (const key of Object.keys(s3Calls)) delete s3Calls[key];
}
