import { parentPort, workerData } from 'node:worker_threads';
import { dkimSignatureLine, prepareKey, type DkimSignerKey } from './dkim.js';

/** Worker-thread entry of the DKIM signer pool: signs batches of messages, answers in order. */

export interface SignRequest {
  id: number;
  time: number;
  items: Array<{ headers: string; body: string }>;
}

export type SignReply = { id: number; lines: string[] } | { id: number; error: string };

const { key, signedHeaders } = workerData as { key: DkimSignerKey; signedHeaders: string };
const prepared = prepareKey(key, signedHeaders);

parentPort!.on('message', (req: SignRequest) => {
  try {
    const lines = req.items.map((m) => dkimSignatureLine(prepared, m.headers, m.body, req.time));
    parentPort!.postMessage({ id: req.id, lines } satisfies SignReply);
  } catch (err) {
    parentPort!.postMessage({ id: req.id, error: (err as Error).message } satisfies SignReply);
  }
});
