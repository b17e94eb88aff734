-- Counters move with the rows they count, in the same transaction, as db/migrations/0001_counters.sql does on D1:
-- exact under concurrent writers (the row lock of the UPDATE serialises them), and idempotent because
-- ON CONFLICT DO NOTHING inserts no row and so fires no trigger.
CREATE FUNCTION "likes_like_count"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE "posts" SET "like_count" = "like_count" + 1 WHERE "id" = NEW."post_id";
  ELSE
    UPDATE "posts" SET "like_count" = "like_count" - 1 WHERE "id" = OLD."post_id";
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "likes_like_count" AFTER INSERT OR DELETE ON "likes" FOR EACH ROW EXECUTE FUNCTION "likes_like_count"();
--> statement-breakpoint
CREATE FUNCTION "comments_comment_count"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE "posts" SET "comment_count" = "comment_count" + 1 WHERE "id" = NEW."post_id";
  ELSE
    UPDATE "posts" SET "comment_count" = "comment_count" - 1 WHERE "id" = OLD."post_id";
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "comments_comment_count" AFTER INSERT OR DELETE ON "comments" FOR EACH ROW EXECUTE FUNCTION "comments_comment_count"();
--> statement-breakpoint
CREATE FUNCTION "shares_share_count"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE "posts" SET "share_count" = "share_count" + 1 WHERE "id" = NEW."post_id";
  ELSE
    UPDATE "posts" SET "share_count" = "share_count" - 1 WHERE "id" = OLD."post_id";
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "shares_share_count" AFTER INSERT OR DELETE ON "shares" FOR EACH ROW EXECUTE FUNCTION "shares_share_count"();
--> statement-breakpoint
CREATE FUNCTION "user_posts_posts_count"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE "users" SET "posts_count" = "posts_count" + 1 WHERE "id" = NEW."user_id";
  ELSE
    UPDATE "users" SET "posts_count" = "posts_count" - 1 WHERE "id" = OLD."user_id";
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "user_posts_posts_count" AFTER INSERT OR DELETE ON "user_posts" FOR EACH ROW EXECUTE FUNCTION "user_posts_posts_count"();
--> statement-breakpoint
CREATE FUNCTION "follows_by_follower_following_count"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE "users" SET "following_count" = "following_count" + 1 WHERE "id" = NEW."follower_id";
  ELSE
    UPDATE "users" SET "following_count" = "following_count" - 1 WHERE "id" = OLD."follower_id";
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "follows_by_follower_following_count" AFTER INSERT OR DELETE ON "follows_by_follower" FOR EACH ROW EXECUTE FUNCTION "follows_by_follower_following_count"();
--> statement-breakpoint
CREATE FUNCTION "follows_by_followee_followers_count"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE "users" SET "followers_count" = "followers_count" + 1 WHERE "id" = NEW."followee_id";
  ELSE
    UPDATE "users" SET "followers_count" = "followers_count" - 1 WHERE "id" = OLD."followee_id";
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "follows_by_followee_followers_count" AFTER INSERT OR DELETE ON "follows_by_followee" FOR EACH ROW EXECUTE FUNCTION "follows_by_followee_followers_count"();
--> statement-breakpoint
-- Full-text search over post text (db/migrations/0012_posts_fts.sql on D1): a generated tsvector, always in step
-- with the row in the same transaction, and a GIN index. 'simple' folds case and does not stem, like FTS5's unicode61.
ALTER TABLE "posts" ADD COLUMN "search" tsvector GENERATED ALWAYS AS (to_tsvector('simple', "text")) STORED;
--> statement-breakpoint
CREATE INDEX "posts_search_idx" ON "posts" USING gin ("search");
