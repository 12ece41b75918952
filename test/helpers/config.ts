import assert from 'node:assert/strict';
import { ConfigError, loadConfig, type ConfigProblem } from '../../src/config.js';

/** What loadConfig refuses in `env`: nothing when it starts, else every problem it reports together. */
export function configProblems(env: Record<string, string>): ConfigProblem[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
}
