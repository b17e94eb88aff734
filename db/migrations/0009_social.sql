CREATE TABLE `blocked_by` (
	`user_id` text NOT NULL,
	`blocker_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `blocker_id`)
);
--> statement-breakpoint
CREATE TABLE `blocks` (
	`blocker_id` text NOT NULL,
	`blocked_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`blocker_id`, `blocked_id`)
);
--> statement-breakpoint
CREATE INDEX `blocks_page_idx` ON `blocks` (`blocker_id`,`created_at`,`blocked_id`);--> statement-breakpoint
CREATE TABLE `filters` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`phrase` text NOT NULL,
	`whole_word` integer NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer
);
--> statement-breakpoint
CREATE INDEX `filters_user_idx` ON `filters` (`user_id`,`id`);--> statement-breakpoint
CREATE TABLE `markers` (
	`user_id` text NOT NULL,
	`timeline` text NOT NULL,
	`last_read_id` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `timeline`)
);
--> statement-breakpoint
CREATE TABLE `mutes` (
	`muter_id` text NOT NULL,
	`muted_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	PRIMARY KEY(`muter_id`, `muted_id`)
);
--> statement-breakpoint
CREATE INDEX `mutes_page_idx` ON `mutes` (`muter_id`,`created_at`,`muted_id`);--> statement-breakpoint
CREATE TABLE `notifications` (
	`recipient_id` text NOT NULL,
	`id` text NOT NULL,
	`key` text NOT NULL,
	`type` text NOT NULL,
	`actor_id` text NOT NULL,
	`post_id` text,
	`comment_id` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`recipient_id`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notifications_key_idx` ON `notifications` (`recipient_id`,`key`);--> statement-breakpoint
CREATE INDEX `notifications_time_idx` ON `notifications` (`created_at`);