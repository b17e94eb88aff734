ALTER TABLE `users` ADD `last_active_at` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `timeline_dropped_at` integer;--> statement-breakpoint
-- Hand-corrected: drizzle-kit 0.31 mangles expression indexes ("coalesce(`...`,` ...)").
CREATE INDEX `users_kept_timeline_idx` ON `users` (coalesce(`last_active_at`, `created_at`)) WHERE `timeline_dropped_at` IS NULL;
