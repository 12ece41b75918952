import type { SendOutcome } from './transport.js';

/**
 * What the send loop tells a listener (the metrics) after each commit: the outcomes just recorded. It is
 * called synchronously on the send loop, so a listener only counts; it must not throw or wait.
 */
export interface SendObserver {
  recorded(outcomes: ReadonlyArray<{ outcome: Pick<SendOutcome, 'kind'> }>): void;
}
