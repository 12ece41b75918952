/**
 * Runs at most `total` tasks at once, and at most `perKey` with the same key (a host): a draft with forty
 * links to one site must not hammer that site, nor a draft with hundreds of links the server.
 */
export function createLimiter(total: number, perKey: number) {
  let running = 0;
  const runningByKey = new Map<string, number>();
  const waiting: Array<{ key: string; start: () => void }> = [];

  const canStart = (key: string) => running < total && (runningByKey.get(key) ?? 0) < perKey;

  const pump = () => {
    for (let i = 0; i < waiting.length && running < total; ) {
      const next = waiting[i]!;
      if (canStart(next.key)) {
        waiting.splice(i, 1);
        next.start();
      } else {
        i++;
      }
    }
  };

  return function run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        running++;
        runningByKey.set(key, (runningByKey.get(key) ?? 0) + 1);
        task()
          .then(resolve, reject)
          .finally(() => {
            running--;
            const left = (runningByKey.get(key) ?? 1) - 1;
            if (left === 0) runningByKey.delete(key);
            else runningByKey.set(key, left);
            pump();
          });
      };
      if (canStart(key) && waiting.length === 0) start();
      else {
        waiting.push({ key, start });
        pump();
      }
    });
  };
}

export type Limiter = ReturnType<typeof createLimiter>;
