// The life of an emulator test file, in one place: moto and a recording proxy in front of it for the whole
// file, moto reset and the proxy's records cleared before every test, and the Lambda containers a test
// started stopped after it. A file's own beforeEach (seeding its fleet) runs after the reset.
import { EC2Client } from '@aws-sdk/client-ec2';
import { assertImage, emulatorClient } from './emulator-ec2';
import { HandlerEntry, LambdaContainer, startContainer } from './lambda-container';
import { MotoServer, startMoto } from './moto-server';
import { RecordingProxy, startRecordingProxy } from './recording-proxy';

export interface EmulatorSuite {
  readonly moto: MotoServer;
  /** Between the handlers and moto: what each request carried. */
  readonly proxy: RecordingProxy;
  /** Straight to moto, for seeding and reading back. */
  readonly ec2: EC2Client;
  /** A fresh container of a bundled handler, stopped after the test. */
  container(entry: HandlerEntry, env: Record<string, string>): Promise<LambdaContainer>;
}

/** Registers the hooks of an emulator test file and returns what its tests use. */
export function emulatorSuite(): EmulatorSuite {
  let moto: MotoServer | undefined;
  let proxy: RecordingProxy | undefined;
  let ec2: EC2Client | undefined;
  const containers: LambdaContainer[] = [];
  const ready = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`the emulator suite's ${name} is used before beforeAll started it`);
    return value;
  };

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startRecordingProxy(moto.endpoint);
    ec2 = emulatorClient(moto.endpoint);
    await assertImage(ec2);
  });

  afterAll(async () => {
    ec2?.destroy();
    await proxy?.stop();
    await moto?.stop();
  });

  beforeEach(async () => {
    await ready(moto, 'moto').reset();
    ready(proxy, 'proxy').clear();
  });

  afterEach(async () => {
    await Promise.all(containers.splice(0).map((c) => c.stop()));
  });

  return {
    get moto() { return ready(moto, 'moto'); },
    get proxy() { return ready(proxy, 'proxy'); },
    get ec2() { return ready(ec2, 'ec2'); },
    async container(entry, env) {
      const c = await startContainer(entry, env);
      containers.push(c);
      return c;
    },
  };
}
