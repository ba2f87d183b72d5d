// Starts the moto EC2 emulator on a free loopback port for a test or a script, and stops it by its PID.
import { ChildProcess, spawn } from 'child_process';
import * as net from 'net';

export interface MotoServer {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Forgets every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto exited with ${child.exitCode}: ${output()}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto did not answer on ${endpoint} within 30 s: ${output()}`);
}

/** `python3 -m moto.server` on 127.0.0.1 (PYTHON overrides the interpreter). */
export async function startMoto(): Promise<MotoServer> {
  const port = await freePort();
  const python = process.env.PYTHON ?? 'python3';
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (d) => { log = (log + d).slice(-4000); });
  child.stderr?.on('data', (d) => { log = (log + d).slice(-4000); });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilUp(endpoint, child, () => log);
  return {
    endpoint,
    port,
    pid: child.pid!,
    async reset() {
      await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    },
    async stop() {
      const running = () => child.exitCode === null && child.signalCode === null;
      if (!running()) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid!, 'SIGTERM');
      // The grace timer is cleared once moto is gone, so it does not keep the test process alive.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 5000); })]);
      clearTimeout(timer);
      if (running()) {
        process.kill(child.pid!, 'SIGKILL');
        await exited;
      }
    },
  };
}
