CREATE TABLE `media` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`kind` text NOT NULL,
	`content_type` text NOT NULL,
	`bytes` integer NOT NULL,
	`width` integer,
	`height` integer,
	`alt` text,
	`post_id` text,
	`created_at` integer NOT NULL,
	`deleted_at` integer
);
--> statement-breakpoint
CREATE INDEX `media_post_idx` ON `media` (`post_id`);--> statement-breakpoint
CREATE TABLE `share_outbox` (
	`post_id` text NOT NULL,
	`user_id` text NOT NULL,
	`sharing` integer NOT NULL,
	`at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`due_at` integer NOT NULL,
	PRIMARY KEY(`post_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `share_outbox_due_idx` ON `share_outbox` (`due_at`);--> statement-breakpoint
CREATE TABLE `tag_posts` (
	`tag` text NOT NULL,
	`post_id` text NOT NULL,
	`author_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tag`, `post_id`)
);
--> statement-breakpoint
CREATE TABLE `user_reposts` (
	`user_id` text NOT NULL,
	`post_id` text NOT NULL,
	`repost_id` text NOT NULL,
	`author_id` text NOT NULL,
	`post_created_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `post_id`)
);
--> statement-breakpoint
CREATE INDEX `user_reposts_recent_idx` ON `user_reposts` (`user_id`,`repost_id`);--> statement-breakpoint
ALTER TABLE `shares` ADD `repost_id` text;--> statement-breakpoint
CREATE INDEX `users_display_name_idx` ON `users` (lower("display_name"));