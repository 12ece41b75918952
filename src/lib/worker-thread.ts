import { Worker } from 'node:worker_threads';

/** `<basename>.js` next to the calling module, or `<basename>.ts` when the caller runs from source (tsx). */
export function besideCaller(callerUrl: string, basename: string): URL {
  return new URL(`./${basename}${callerUrl.endsWith('.ts') ? '.ts' : '.js'}`, callerUrl);
}

/**
 * Starts `<basename>.js` next to the calling module as a worker thread; or, when running from source
 * under tsx (tests, `npm run dev`), `<basename>.ts` through tsx's API, because Node 20 workers do not
 * get tsx's loader hooks from the parent.
 */
export function startWorker(callerUrl: string, basename: string, workerData: unknown): Worker {
  // The workers (the shared background thread, DKIM) keep almost nothing alive between messages: a small
  // young generation keeps their garbage from piling up, which bounds a DKIM-signed send's memory at no cost
  // in rate.
  const options = { workerData, resourceLimits: { maxYoungGenerationSizeMb: 4 } };
  const file = besideCaller(callerUrl, basename);
  if (!callerUrl.endsWith('.ts')) return new Worker(file, options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(file.href);
  return new Worker(`import(${tsx}).then((tsx) => tsx.tsImport(${entry}, ${entry}))`, { ...options, eval: true });
}
