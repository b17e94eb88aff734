-- Counters move with the rows they count, inside the same statement's transaction: exact under
-- concurrent writers, and idempotent because INSERT OR IGNORE / ON CONFLICT DO NOTHING fires no trigger.
CREATE TRIGGER `likes_count_insert` AFTER INSERT ON `likes` BEGIN
  UPDATE `posts` SET `like_count` = `like_count` + 1 WHERE `id` = NEW.`post_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `likes_count_delete` AFTER DELETE ON `likes` BEGIN
  UPDATE `posts` SET `like_count` = `like_count` - 1 WHERE `id` = OLD.`post_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `comments_count_insert` AFTER INSERT ON `comments` BEGIN
  UPDATE `posts` SET `comment_count` = `comment_count` + 1 WHERE `id` = NEW.`post_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `comments_count_delete` AFTER DELETE ON `comments` BEGIN
  UPDATE `posts` SET `comment_count` = `comment_count` - 1 WHERE `id` = OLD.`post_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `shares_count_insert` AFTER INSERT ON `shares` BEGIN
  UPDATE `posts` SET `share_count` = `share_count` + 1 WHERE `id` = NEW.`post_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `shares_count_delete` AFTER DELETE ON `shares` BEGIN
  UPDATE `posts` SET `share_count` = `share_count` - 1 WHERE `id` = OLD.`post_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `user_posts_count_insert` AFTER INSERT ON `user_posts` BEGIN
  UPDATE `users` SET `posts_count` = `posts_count` + 1 WHERE `id` = NEW.`user_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `user_posts_count_delete` AFTER DELETE ON `user_posts` BEGIN
  UPDATE `users` SET `posts_count` = `posts_count` - 1 WHERE `id` = OLD.`user_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `following_count_insert` AFTER INSERT ON `follows_by_follower` BEGIN
  UPDATE `users` SET `following_count` = `following_count` + 1 WHERE `id` = NEW.`follower_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `following_count_delete` AFTER DELETE ON `follows_by_follower` BEGIN
  UPDATE `users` SET `following_count` = `following_count` - 1 WHERE `id` = OLD.`follower_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `followers_count_insert` AFTER INSERT ON `follows_by_followee` BEGIN
  UPDATE `users` SET `followers_count` = `followers_count` + 1 WHERE `id` = NEW.`followee_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `followers_count_delete` AFTER DELETE ON `follows_by_followee` BEGIN
  UPDATE `users` SET `followers_count` = `followers_count` - 1 WHERE `id` = OLD.`followee_id`;
END;
