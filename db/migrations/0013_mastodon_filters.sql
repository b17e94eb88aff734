CREATE TABLE `filter_groups` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`title` text NOT NULL,
	`context` text NOT NULL,
	`action` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer
);
--> statement-breakpoint
CREATE INDEX `filter_groups_user_idx` ON `filter_groups` (`user_id`,`id`);--> statement-breakpoint
ALTER TABLE `filters` ADD `group_id` text;--> statement-breakpoint
CREATE INDEX `filters_group_idx` ON `filters` (`user_id`,`group_id`);