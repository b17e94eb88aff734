/**
 * Domain errors carry the HTTP-facing status and a stable machine-readable code; the API's single error
 * handler turns them into `{"error": {"code", "message"}}`. Nothing here knows about HTTP libraries.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 410 | 412 | 413 | 415 | 422 | 429 | 503,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export class ValidationError extends AppError {
  override name = 'ValidationError';
  constructor(message: string, details?: unknown) {
    super(400, 'invalid_request', message, details);
  }
}

export class InvalidCursorError extends AppError {
  override name = 'InvalidCursorError';
  constructor(message = 'cursor is malformed, forged or from another listing') {
    super(400, 'invalid_cursor', message);
  }
}

/** A ranked feed's cursor outlived its snapshot: the client starts again from the first page. */
export class CursorExpiredError extends AppError {
  override name = 'CursorExpiredError';
  constructor() {
    super(410, 'cursor_expired', 'this ranked feed snapshot has expired; request the first page again');
  }
}

export class UnauthorizedError extends AppError {
  override name = 'UnauthorizedError';
  constructor(message = 'a valid bearer token is required') {
    super(401, 'unauthorized', message);
  }
}

export class ForbiddenError extends AppError {
  override name = 'ForbiddenError';
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

/** A block stands between the actor and the account acted on (either way): DESIGN.md's 403 `blocked`. */
export class BlockedError extends AppError {
  override name = 'BlockedError';
  constructor(message = 'a block between you and this account refuses the action') {
    super(403, 'blocked', message);
  }
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
  }
}

export class ConflictError extends AppError {
  override name = 'ConflictError';
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}

export class PreconditionFailedError extends AppError {
  override name = 'PreconditionFailedError';
  constructor(message: string) {
    super(412, 'precondition_failed', message);
  }
}

export class RateLimitedError extends AppError {
  override name = 'RateLimitedError';
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'rate_limited', `too many requests; retry in ${retryAfterSeconds} s`);
  }
}

export class UnavailableError extends AppError {
  override name = 'UnavailableError';
  constructor(message: string) {
    super(503, 'unavailable', message);
  }
}
