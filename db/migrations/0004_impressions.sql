CREATE TABLE `impressions` (
	`user_id` text NOT NULL,
	`post_id` text NOT NULL,
	`served_at` integer NOT NULL,
	`position` integer NOT NULL,
	`signals` text NOT NULL,
	PRIMARY KEY(`user_id`, `served_at`, `post_id`)
);
--> statement-breakpoint
CREATE INDEX `impressions_time_idx` ON `impressions` (`served_at`);