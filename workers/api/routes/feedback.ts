import { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../../src/errors.ts';
import { isLive } from '../../../src/model.ts';
import { categoriesOf } from '../../../src/ranking.ts';
import { decodeVector } from '../../../src/vectors.ts';
import type { FeedbackNote } from '../../../durable-objects/user-timeline.ts';
import { cachedPosts } from '../../cache/index.ts';
import { modelIdOf } from '../../embedding/config.ts';
import { requireUser } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { rateLimit } from '../rate-limit.ts';
import { describeRoutes } from '../route-docs.ts';
import { idSchema, validate } from '../validation.ts';

const feedbackBody = z.strictObject({ postId: idSchema, kind: z.enum(['less', 'more']) });

/**
 * "Show less/more like this" (Bluesky's feedback): moves the reader's affinity to the post's author and the
 * interest vector, at once (the reader's next page shows it), and a "less" takes the post out of the ranked feed.
 */
export const feedbackRoutes = new Hono<AppEnv>().post(
  '/',
  requireUser,
  validate('json', feedbackBody),
  rateLimit('write'),
  async (c) => {
    const { deps } = c.var;
    const { postId, kind } = c.req.valid('json');
    const model = modelIdOf(deps.config.embedding);
    const [posts, vectors] = await Promise.all([
      cachedPosts(deps, [postId]),
      deps.repos.embeddings.getMany([postId], model),
    ]);
    const post = posts.get(postId);
    if (!isLive(post)) throw new NotFoundError('post');
    const vector = vectors.get(postId);
    const note: FeedbackNote = {
      postId,
      authorId: post.authorId,
      categories: categoriesOf(post),
      kind,
      at: deps.now(),
    };
    if (vector) note.vector = { model, values: decodeVector(vector) };
    await deps.objects.timeline(c.var.userId).noteFeedback(note);
    return c.json({ accepted: true }, 202);
  },
);

describeRoutes(feedbackRoutes, {
  'POST /': {
    summary: 'Show less or more like this',
    description:
      "Moves the reader's affinity to the post's author and the interest vector at once; `less` also takes the post out of the ranked feed.",
    requestExample: { postId: '7311250374631424', kind: 'less' },
    responses: { 202: { description: 'Accepted', schema: z.object({ accepted: z.literal(true) }) } },
    errors: { 404: 'no such post, or it is deleted' },
  },
});
