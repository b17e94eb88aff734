import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import { z } from 'zod';
import { isId, isWellFormedId } from '../../src/ids.ts';
import { ValidationError } from '../../src/errors.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../src/password.ts';
import { checkText, codePointLength, textRejectionMessage } from '../../src/text.ts';

/** zValidator whose failures become ValidationErrors: one JSON error shape, listing every bad field. */
export function validate<Target extends keyof ValidationTargets, Schema extends z.ZodType>(
  target: Target,
  schema: Schema,
) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      const issues = result.error.issues.map((issue) => ({
        path: issue.path.join('.'),
        message: issue.message,
      }));
      const where = target === 'param' ? 'path' : target;
      const first = issues[0];
      throw new ValidationError(
        `invalid ${where}${first ? `: ${first.path ? `${first.path}: ` : ''}${first.message}` : ''}`,
        issues,
      );
    }
  });
}

/** An id in a path, query or body: well-formed is enough, an unknown one is the handler's 404. */
export const idSchema = z.string().refine(isWellFormedId, 'must be an id: a decimal string of 1-20 digits');

/** An id inside a signed cursor: only ever one the service minted. */
export const mintedIdSchema = z.string().refine(isId, 'must be an id the service minted');

export const passwordSchema = z
  .string()
  .refine((s) => codePointLength(s) >= PASSWORD_MIN_LENGTH, `at least ${PASSWORD_MIN_LENGTH} characters`)
  .refine((s) => codePointLength(s) <= PASSWORD_MAX_LENGTH, `at most ${PASSWORD_MAX_LENGTH} characters`);

export const idParam = z.object({ id: idSchema });

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(1024).optional(),
});

/** A user-written text field under the text policy (src/text.ts checkText); its value becomes the NFC text. */
export function textField(max: number, options: { trim?: boolean } = {}) {
  return z.string().transform((value, ctx) => {
    const result = checkText(value, { max, trim: options.trim });
    if (result.ok) return result.text;
    ctx.issues.push({ code: 'custom', message: textRejectionMessage(result.reason, max), input: value });
    return z.NEVER;
  });
}

/** The same policy for a field that may be left out; when present it must not be empty. */
export function optionalTextField(max: number, options: { trim?: boolean } = {}) {
  return textField(max, options).optional();
}
