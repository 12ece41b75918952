/**
 * What the server closes when it stops, and in which order: first what produces work (jobs, the send
 * loop, single mail), then what still writes to the database as it ends (a running import finishes its
 * current batch, buffered tracking hits are recorded, reported errors are stored), and the database last.
 * Closing the database earlier would make those last writes fail and lose them.
 */
export interface ClosingParts {
  jobs: { stop(): Promise<void> };
  sending: { stop(): Promise<void> };
  mailOutbox: { stop(): Promise<void> };
  mailer: { close(): Promise<void> | void };
  imports: { close(): Promise<void> };
  hitRecorder: { close(): Promise<void> };
  observability: { errors: { flush(): Promise<void> }; close(): void };
  database: { close(): Promise<void> };
}

export async function closeServer(p: ClosingParts): Promise<void> {
  await p.jobs.stop();
  await p.sending.stop();
  await p.mailOutbox.stop();
  await p.mailer.close();
  await p.imports.close();
  await p.hitRecorder.close();
  await p.observability.errors.flush();
  p.observability.close();
  await p.database.close();
}
