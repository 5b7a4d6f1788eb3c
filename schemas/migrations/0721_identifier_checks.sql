-- 0721 identifier domains: the same rule, checked about ten times faster.
--
-- Every identifier stored (accounts, symbols, order, fill, signal and
-- strategy ids: several per order row, one per bar) is checked against its
-- domain. PostgreSQL's regex engine runs the anchored bounded repetition of
-- 0001 ('^[A-Za-z0-9_-]{1,63}$') at about 4 microseconds a value on the
-- 2-core machine of the benchmarks, a length test plus a search for one
-- character outside the class at about 0.4: together they were several
-- percent of the database's CPU in the tick chain benchmark. The values
-- accepted are the same: both classes are ASCII, so bytes and characters
-- count alike, and a value with any other character fails the search.
--
-- NOT VALID: the values already stored passed the old, equivalent check;
-- validating would scan every table that uses the domains.
ALTER DOMAIN tb_token ADD CONSTRAINT tb_token_chars
    CHECK (octet_length(VALUE) BETWEEN 1 AND 63 AND VALUE !~ '[^A-Za-z0-9_-]') NOT VALID;
ALTER DOMAIN tb_token DROP CONSTRAINT tb_token_check;

ALTER DOMAIN tb_id ADD CONSTRAINT tb_id_chars
    CHECK (octet_length(VALUE) BETWEEN 1 AND 63 AND VALUE !~ '[^!-~]') NOT VALID;
ALTER DOMAIN tb_id DROP CONSTRAINT tb_id_check;
