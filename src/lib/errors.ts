/**
 * Domain errors. Services throw these; only the error plugin knows how they become HTTP responses,
 * so the domain layer never speaks HTTP.
 */

export abstract class DomainError extends Error {
  abstract readonly code: string;
}

/** Input that breaks a rule; `fields` maps a form field to the message shown beside it. */
export class ValidationError extends DomainError {
  readonly code = 'validation_failed';
  constructor(
    readonly fields: Record<string, string>,
    message = 'Some fields need attention.',
  ) {
    super(message);
  }
}

/**
 * Input that cannot be read at all, whatever the form (a NUL byte, a broken upload): a 400 whose `fields`
 * name where the trouble is.
 */
export class BadRequestError extends DomainError {
  readonly code = 'bad_request';
  constructor(
    readonly fields: Record<string, string> = {},
    message = 'That request could not be understood.',
  ) {
    super(message);
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'not_found';
  constructor(message = 'Not found.') {
    super(message);
  }
}

export class ConflictError extends DomainError {
  readonly code = 'conflict';
}

export class ForbiddenError extends DomainError {
  readonly code = 'forbidden';
}

export class UnauthorizedError extends DomainError {
  readonly code = 'unauthorized';
}

export class RateLimitedError extends DomainError {
  readonly code = 'rate_limited';
  constructor(
    readonly retryAfterMs: number,
    message = 'Too many attempts. Please wait a moment and try again.',
  ) {
    super(message);
  }
}
