CREATE TABLE `dead_letters` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`payload` text NOT NULL,
	`last_error` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`failed_at` integer NOT NULL,
	`dead_at` integer,
	`replayed_at` integer
);
--> statement-breakpoint
CREATE INDEX `dead_letters_pending_idx` ON `dead_letters` (`replayed_at`,`failed_at`);--> statement-breakpoint
CREATE TABLE `follow_outbox` (
	`follower_id` text NOT NULL,
	`followee_id` text NOT NULL,
	`following` integer NOT NULL,
	`at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`due_at` integer NOT NULL,
	PRIMARY KEY(`follower_id`, `followee_id`)
);
--> statement-breakpoint
CREATE INDEX `follow_outbox_due_idx` ON `follow_outbox` (`due_at`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`user_id` text NOT NULL,
	`key` text NOT NULL,
	`post_id` text NOT NULL,
	`request_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_time_idx` ON `idempotency_keys` (`created_at`);--> statement-breakpoint
CREATE TABLE `post_outbox` (
	`post_id` text PRIMARY KEY NOT NULL,
	`author_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`due_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `post_outbox_due_idx` ON `post_outbox` (`due_at`);