// An HTTP proxy in front of the EC2 emulator that keeps every request it forwards, with moto's status, so a
// test can read the exact query parameters a bundled handler sent: its SDK client is out of the test's reach.
import * as crypto from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';
import { ec2ErrorXml } from './fault-proxy';
import { SnapshotLocks } from './snapshot-locks';

export interface RecordedRequest {
  /** The EC2 action, from the query body's `Action`. */
  readonly action: string;
  /** The decoded query parameters of the body. */
  readonly params: URLSearchParams;
  /** The body as sent: form-encoded EC2 query parameters. */
  readonly body: string;
  /** The status moto answered with (502 if moto could not be reached). */
  readonly status: number;
}

export interface RecordingProxy {
  readonly endpoint: string;
  /** Every request whose answer came back, in the order the answers came. */
  readonly records: RecordedRequest[];
  /** The recorded requests of one action. */
  requests(action: string): RecordedRequest[];
  clear(): void;
  stop(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const records: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const text = body.toString('utf8');
      const params = new URLSearchParams(text);
      const record = (status: number) => records.push({ action: params.get('Action') ?? '', params, body: text, status });
      // moto has no snapshot locks, and every clean-up lists them: this proxy puts no lock, so the faithful
      // answer is an empty listing (the fault proxy emulates locking itself).
      if (params.get('Action') === 'DescribeLockedSnapshots') return void answerLocks(params, res, record);
      const forward = http.request({
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'host': upstream.host, 'content-length': String(body.length) },
      }, (answer) => {
        const status = answer.statusCode ?? 502;
        res.writeHead(status, answer.headers);
        answer.pipe(res);
        answer.on('end', () => record(status));
      });
      forward.on('error', (error) => {
        record(502);
        res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end(String(error));
      });
      forward.end(body);
    });
  });
  const locks = new SnapshotLocks();
  async function answerLocks(params: URLSearchParams, res: http.ServerResponse, record: (status: number) => void): Promise<void> {
    const answer = await locks.answer('DescribeLockedSnapshots', params, async () => undefined, crypto.randomUUID());
    const body = answer.refusal ? ec2ErrorXml(answer.refusal.code, answer.refusal.message) : answer.body ?? '';
    res.writeHead(answer.status, { 'Content-Type': 'text/xml;charset=UTF-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    record(answer.status);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    records,
    requests: (action) => records.filter((r) => r.action === action),
    clear: () => { records.length = 0; },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
