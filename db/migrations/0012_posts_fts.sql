-- Full-text search over post text (GET /v1/search type=posts), one index per shard beside its posts. External
-- content (the posts table holds the text once); triggers keep it in step in the same transaction as the write:
-- a new post, an edit, a tombstone (its text becomes ''), a removal.
CREATE VIRTUAL TABLE `posts_fts` USING fts5(`text`, content='posts', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
INSERT INTO `posts_fts`(`posts_fts`) VALUES ('rebuild');
--> statement-breakpoint
CREATE TRIGGER `posts_fts_insert` AFTER INSERT ON `posts` BEGIN
  INSERT INTO `posts_fts`(`rowid`, `text`) VALUES (NEW.`rowid`, NEW.`text`);
END;
--> statement-breakpoint
CREATE TRIGGER `posts_fts_delete` AFTER DELETE ON `posts` BEGIN
  INSERT INTO `posts_fts`(`posts_fts`, `rowid`, `text`) VALUES ('delete', OLD.`rowid`, OLD.`text`);
END;
--> statement-breakpoint
CREATE TRIGGER `posts_fts_update` AFTER UPDATE OF `text` ON `posts` BEGIN
  INSERT INTO `posts_fts`(`posts_fts`, `rowid`, `text`) VALUES ('delete', OLD.`rowid`, OLD.`text`);
  INSERT INTO `posts_fts`(`rowid`, `text`) VALUES (NEW.`rowid`, NEW.`text`);
END;
