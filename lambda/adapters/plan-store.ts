// The S3 plan store of orchestrated runs and clean-ups: their batches as JSON objects, one object a batch,
// under the prefix of the role that wrote them (`PlanPrefix`, `logic/batches.ts` batchKey). The only module
// that talks to S3.
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** What the phases need of the store; runs depend on this, not on S3. */
export interface PlanStore {
  put(key: string, body: unknown): Promise<void>;
  get<T>(key: string): Promise<T>;
}

export class S3PlanStore implements PlanStore {
  /** A client as the handlers use it; a custom endpoint (an emulator such as moto) serves buckets by path. */
  static fromEnvironment(bucket: string, env: Readonly<Record<string, string | undefined>> = process.env): S3PlanStore {
    return new S3PlanStore(new S3Client({ forcePathStyle: Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL) }), bucket);
  }

  constructor(readonly s3: S3Client, readonly bucket: string) {}

  async put(key: string, body: unknown): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: JSON.stringify(body), ContentType: 'application/json' }));
  }

  async get<T>(key: string): Promise<T> {
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return JSON.parse(await object.Body!.transformToString()) as T;
  }
}
