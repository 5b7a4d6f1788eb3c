-- 0768 the outbox's cleanup finds old rows by id, not through a BRIN index.
--
-- The daily cleanup (bus/outbox.c) deletes rows below the id of the first
-- row younger than a day. With outbox_created_brin in place the planner
-- preferred a bitmap scan of the index for "created_at older than a day",
-- and BRIN returns every block range autovacuum has not summarized yet: on
-- a busy outbox that is most of the day's rows, all read and rechecked to
-- delete none (265 ms a call at 930,000 rows, each producer's relay every
-- thousand rounds). Nothing else reads the index.
DROP INDEX IF EXISTS outbox_created_brin;
