import { z } from 'zod';
import { isWellFormedId } from '../../src/ids.ts';

/** An id parameter: any decimal string of 1-20 digits (unknown ones are a 404). */
export const idValue = z.string().refine(isWellFormedId, 'must be an id: a decimal string of 1-20 digits');

export const idPath = z.object({ id: idValue });

/** Mastodon's page parameters; `limit` defaults to 20 and is capped at 40, as Mastodon caps most lists. */
export const pageParams = z.object({
  max_id: idValue.optional(),
  since_id: idValue.optional(),
  min_id: idValue.optional(),
  limit: z.coerce.number().int().min(1).max(40).default(20),
});

/** Booleans as clients send them: JSON true/false or the strings Rails accepts. */
export const flag = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
  .transform((v) => v === true || v === 'true' || v === '1');

export type PageParams = z.infer<typeof pageParams>;
