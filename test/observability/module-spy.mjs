// Preloaded into a child Gazette process (node --import): prints every module it resolves under
// node_modules/@sentry/ to stderr, so a test can tell whether the Sentry SDK was loaded at all.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.includes('/node_modules/@sentry/')) process.stderr.write(`module-spy: loaded ${resolved.url}\n`);
    return resolved;
  },
});
