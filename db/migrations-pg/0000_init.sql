CREATE TABLE "blocked_by" (
	"user_id" text NOT NULL,
	"blocker_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "blocked_by_user_id_blocker_id_pk" PRIMARY KEY("user_id","blocker_id")
);
--> statement-breakpoint
CREATE TABLE "blocks" (
	"blocker_id" text NOT NULL,
	"blocked_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "blocks_blocker_id_blocked_id_pk" PRIMARY KEY("blocker_id","blocked_id")
);
--> statement-breakpoint
CREATE TABLE "comments" (
	"id" text PRIMARY KEY NOT NULL,
	"post_id" text NOT NULL,
	"author_id" text NOT NULL,
	"text" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dead_letters" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"payload" text NOT NULL,
	"last_error" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"failed_at" bigint NOT NULL,
	"dead_at" bigint,
	"replayed_at" bigint
);
--> statement-breakpoint
CREATE TABLE "filters" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"phrase" text NOT NULL,
	"whole_word" boolean NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint
);
--> statement-breakpoint
CREATE TABLE "follow_outbox" (
	"follower_id" text NOT NULL,
	"followee_id" text NOT NULL,
	"following" boolean NOT NULL,
	"at" bigint NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"due_at" bigint NOT NULL,
	CONSTRAINT "follow_outbox_follower_id_followee_id_pk" PRIMARY KEY("follower_id","followee_id")
);
--> statement-breakpoint
CREATE TABLE "follows_by_followee" (
	"followee_id" text NOT NULL,
	"follower_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"show_reposts" boolean DEFAULT true NOT NULL,
	CONSTRAINT "follows_by_followee_followee_id_follower_id_pk" PRIMARY KEY("followee_id","follower_id")
);
--> statement-breakpoint
CREATE TABLE "follows_by_follower" (
	"follower_id" text NOT NULL,
	"followee_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"show_reposts" boolean DEFAULT true NOT NULL,
	CONSTRAINT "follows_by_follower_follower_id_followee_id_pk" PRIMARY KEY("follower_id","followee_id")
);
--> statement-breakpoint
CREATE TABLE "handles" (
	"handle" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"password_hash" text
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"user_id" text NOT NULL,
	"key" text NOT NULL,
	"post_id" text NOT NULL,
	"request_hash" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "idempotency_keys_user_id_key_pk" PRIMARY KEY("user_id","key")
);
--> statement-breakpoint
CREATE TABLE "impressions" (
	"user_id" text NOT NULL,
	"post_id" text NOT NULL,
	"served_at" bigint NOT NULL,
	"position" integer NOT NULL,
	"signals" text NOT NULL,
	"arm" text DEFAULT 'default' NOT NULL,
	CONSTRAINT "impressions_user_id_served_at_post_id_pk" PRIMARY KEY("user_id","served_at","post_id")
);
--> statement-breakpoint
CREATE TABLE "interactions" (
	"user_id" text NOT NULL,
	"kind" text NOT NULL,
	"ref_id" text NOT NULL,
	"post_id" text NOT NULL,
	"author_id" text NOT NULL,
	"duration_ms" bigint,
	"created_at" bigint NOT NULL,
	CONSTRAINT "interactions_user_id_kind_ref_id_pk" PRIMARY KEY("user_id","kind","ref_id")
);
--> statement-breakpoint
CREATE TABLE "likes" (
	"post_id" text NOT NULL,
	"user_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "likes_post_id_user_id_pk" PRIMARY KEY("post_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "markers" (
	"user_id" text NOT NULL,
	"timeline" text NOT NULL,
	"last_read_id" text NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "markers_user_id_timeline_pk" PRIMARY KEY("user_id","timeline")
);
--> statement-breakpoint
CREATE TABLE "media" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"kind" text NOT NULL,
	"content_type" text NOT NULL,
	"bytes" bigint NOT NULL,
	"width" integer,
	"height" integer,
	"alt" text,
	"post_id" text,
	"created_at" bigint NOT NULL,
	"deleted_at" bigint
);
--> statement-breakpoint
CREATE TABLE "mutes" (
	"muter_id" text NOT NULL,
	"muted_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint,
	CONSTRAINT "mutes_muter_id_muted_id_pk" PRIMARY KEY("muter_id","muted_id")
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"recipient_id" text NOT NULL,
	"id" text NOT NULL,
	"key" text NOT NULL,
	"type" text NOT NULL,
	"actor_id" text NOT NULL,
	"post_id" text,
	"comment_id" text,
	"created_at" bigint NOT NULL,
	CONSTRAINT "notifications_recipient_id_id_pk" PRIMARY KEY("recipient_id","id")
);
--> statement-breakpoint
CREATE TABLE "oauth_apps" (
	"client_id" text PRIMARY KEY NOT NULL,
	"secret_hash" text NOT NULL,
	"name" text NOT NULL,
	"website" text,
	"redirect_uris" text NOT NULL,
	"scopes" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "oauth_codes" (
	"code_hash" text PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"user_id" text NOT NULL,
	"redirect_uri" text NOT NULL,
	"scopes" text NOT NULL,
	"code_challenge" text,
	"expires_at" bigint NOT NULL,
	"used_at" bigint,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "oauth_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"user_id" text,
	"scopes" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "post_embeddings" (
	"post_id" text PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"vector" "bytea" NOT NULL,
	"version" integer NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "post_outbox" (
	"post_id" text PRIMARY KEY NOT NULL,
	"author_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"due_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "posts" (
	"id" text PRIMARY KEY NOT NULL,
	"author_id" text NOT NULL,
	"text" text NOT NULL,
	"media" text DEFAULT '[]' NOT NULL,
	"hashtags" text DEFAULT '[]' NOT NULL,
	"mentions" text DEFAULT '[]' NOT NULL,
	"location" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"deleted_at" bigint,
	"like_count" integer DEFAULT 0 NOT NULL,
	"comment_count" integer DEFAULT 0 NOT NULL,
	"share_count" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "share_outbox" (
	"post_id" text NOT NULL,
	"user_id" text NOT NULL,
	"sharing" boolean NOT NULL,
	"at" bigint NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"due_at" bigint NOT NULL,
	CONSTRAINT "share_outbox_post_id_user_id_pk" PRIMARY KEY("post_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "shares" (
	"post_id" text NOT NULL,
	"user_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"repost_id" text,
	CONSTRAINT "shares_post_id_user_id_pk" PRIMARY KEY("post_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "tag_posts" (
	"tag" text NOT NULL,
	"post_id" text NOT NULL,
	"author_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "tag_posts_tag_post_id_pk" PRIMARY KEY("tag","post_id")
);
--> statement-breakpoint
CREATE TABLE "user_posts" (
	"user_id" text NOT NULL,
	"post_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "user_posts_user_id_post_id_pk" PRIMARY KEY("user_id","post_id")
);
--> statement-breakpoint
CREATE TABLE "user_reposts" (
	"user_id" text NOT NULL,
	"post_id" text NOT NULL,
	"repost_id" text NOT NULL,
	"author_id" text NOT NULL,
	"post_created_at" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "user_reposts_user_id_post_id_pk" PRIMARY KEY("user_id","post_id")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"handle" text NOT NULL,
	"display_name" text NOT NULL,
	"created_at" bigint NOT NULL,
	"followers_count" integer DEFAULT 0 NOT NULL,
	"following_count" integer DEFAULT 0 NOT NULL,
	"posts_count" integer DEFAULT 0 NOT NULL,
	"last_active_at" bigint,
	"timeline_dropped_at" bigint
);
--> statement-breakpoint
CREATE INDEX "blocks_page_idx" ON "blocks" USING btree ("blocker_id","created_at","blocked_id");--> statement-breakpoint
CREATE INDEX "comments_post_idx" ON "comments" USING btree ("post_id","id");--> statement-breakpoint
CREATE INDEX "dead_letters_pending_idx" ON "dead_letters" USING btree ("replayed_at","failed_at");--> statement-breakpoint
CREATE INDEX "filters_user_idx" ON "filters" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "follow_outbox_due_idx" ON "follow_outbox" USING btree ("due_at");--> statement-breakpoint
CREATE INDEX "follows_by_followee_page_idx" ON "follows_by_followee" USING btree ("followee_id","created_at","follower_id");--> statement-breakpoint
CREATE INDEX "follows_by_follower_page_idx" ON "follows_by_follower" USING btree ("follower_id","created_at","followee_id");--> statement-breakpoint
CREATE INDEX "idempotency_keys_time_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "impressions_time_idx" ON "impressions" USING btree ("served_at");--> statement-breakpoint
CREATE INDEX "interactions_author_idx" ON "interactions" USING btree ("user_id","author_id","created_at");--> statement-breakpoint
CREATE INDEX "interactions_time_idx" ON "interactions" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "media_post_idx" ON "media" USING btree ("post_id");--> statement-breakpoint
CREATE INDEX "mutes_page_idx" ON "mutes" USING btree ("muter_id","created_at","muted_id");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_key_idx" ON "notifications" USING btree ("recipient_id","key");--> statement-breakpoint
CREATE INDEX "notifications_time_idx" ON "notifications" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "post_outbox_due_idx" ON "post_outbox" USING btree ("due_at");--> statement-breakpoint
CREATE INDEX "posts_author_idx" ON "posts" USING btree ("author_id","id");--> statement-breakpoint
CREATE INDEX "share_outbox_due_idx" ON "share_outbox" USING btree ("due_at");--> statement-breakpoint
CREATE INDEX "user_reposts_recent_idx" ON "user_reposts" USING btree ("user_id","repost_id");--> statement-breakpoint
CREATE INDEX "users_kept_timeline_idx" ON "users" USING btree (coalesce("last_active_at", "created_at")) WHERE "users"."timeline_dropped_at" IS NULL;--> statement-breakpoint
CREATE INDEX "users_display_name_idx" ON "users" USING btree (lower("display_name"));