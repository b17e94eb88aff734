CREATE TABLE "filter_groups" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"title" text NOT NULL,
	"context" text NOT NULL,
	"action" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint
);
--> statement-breakpoint
ALTER TABLE "filters" ADD COLUMN "group_id" text;--> statement-breakpoint
CREATE INDEX "filter_groups_user_idx" ON "filter_groups" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "filters_group_idx" ON "filters" USING btree ("user_id","group_id");