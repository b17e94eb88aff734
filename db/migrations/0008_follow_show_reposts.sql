ALTER TABLE `follows_by_followee` ADD `show_reposts` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `follows_by_follower` ADD `show_reposts` integer DEFAULT true NOT NULL;