/** Durable Object stubs by the id they are named after. */
export function timelineOf(env: Env, userId: string) {
  return env.USER_TIMELINE.get(env.USER_TIMELINE.idFromName(userId));
}

export function authorFeedOf(env: Env, authorId: string) {
  return env.AUTHOR_FEED.get(env.AUTHOR_FEED.idFromName(authorId));
}
