CREATE TABLE `comments` (
	`id` text PRIMARY KEY NOT NULL,
	`post_id` text NOT NULL,
	`author_id` text NOT NULL,
	`text` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `comments_post_idx` ON `comments` (`post_id`,`id`);--> statement-breakpoint
CREATE TABLE `follows_by_followee` (
	`followee_id` text NOT NULL,
	`follower_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`followee_id`, `follower_id`)
);
--> statement-breakpoint
CREATE INDEX `follows_by_followee_page_idx` ON `follows_by_followee` (`followee_id`,`created_at`,`follower_id`);--> statement-breakpoint
CREATE TABLE `follows_by_follower` (
	`follower_id` text NOT NULL,
	`followee_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`follower_id`, `followee_id`)
);
--> statement-breakpoint
CREATE INDEX `follows_by_follower_page_idx` ON `follows_by_follower` (`follower_id`,`created_at`,`followee_id`);--> statement-breakpoint
CREATE TABLE `handles` (
	`handle` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `interactions` (
	`user_id` text NOT NULL,
	`kind` text NOT NULL,
	`ref_id` text NOT NULL,
	`post_id` text NOT NULL,
	`author_id` text NOT NULL,
	`duration_ms` integer,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `kind`, `ref_id`)
);
--> statement-breakpoint
CREATE INDEX `interactions_author_idx` ON `interactions` (`user_id`,`author_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `interactions_time_idx` ON `interactions` (`user_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `likes` (
	`post_id` text NOT NULL,
	`user_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`post_id`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `posts` (
	`id` text PRIMARY KEY NOT NULL,
	`author_id` text NOT NULL,
	`text` text NOT NULL,
	`media` text DEFAULT '[]' NOT NULL,
	`hashtags` text DEFAULT '[]' NOT NULL,
	`mentions` text DEFAULT '[]' NOT NULL,
	`location` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`deleted_at` integer,
	`like_count` integer DEFAULT 0 NOT NULL,
	`comment_count` integer DEFAULT 0 NOT NULL,
	`share_count` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `posts_author_idx` ON `posts` (`author_id`,`id`);--> statement-breakpoint
CREATE TABLE `shares` (
	`post_id` text NOT NULL,
	`user_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`post_id`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `user_posts` (
	`user_id` text NOT NULL,
	`post_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `post_id`)
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`handle` text NOT NULL,
	`display_name` text NOT NULL,
	`created_at` integer NOT NULL,
	`followers_count` integer DEFAULT 0 NOT NULL,
	`following_count` integer DEFAULT 0 NOT NULL,
	`posts_count` integer DEFAULT 0 NOT NULL
);
