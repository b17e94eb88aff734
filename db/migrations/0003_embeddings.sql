CREATE TABLE `post_embeddings` (
	`post_id` text PRIMARY KEY NOT NULL,
	`model` text NOT NULL,
	`vector` blob NOT NULL,
	`version` integer NOT NULL,
	`created_at` integer NOT NULL
);
