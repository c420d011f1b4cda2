-- Workload: money moving between the demo wallets (sql/demo), one transaction per transfer.
--
--   aurora-lite shell DIR -f sql/workloads/bank_transfers.sql
--
-- Needs the demo schema and data (accounts, transfers). Every transfer debits one account and
-- credits another by the same amount inside BEGIN ... COMMIT and records itself in the
-- transfers ledger, so the sum of all balances never changes: compare the first and the last
-- query. One transfer is rolled back and leaves no trace; two guarded transfers are single
-- statements that move the money only if the payer can afford it. The script can be run
-- again: ledger ids continue from the largest one.

-- Before: the money in the bank.
SELECT count(*) AS accounts, sum(balance_cents) AS total_cents FROM accounts;

-- Twenty ordinary transfers.
BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 5175, updated_at = now() WHERE id = 1042;
UPDATE accounts SET balance_cents = balance_cents + 5175, updated_at = now() WHERE id = 1020;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1042, 1020, 5175, now(), 'rent share' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 1325, updated_at = now() WHERE id = 1010;
UPDATE accounts SET balance_cents = balance_cents + 1325, updated_at = now() WHERE id = 1069;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1010, 1069, 1325, now(), 'groceries' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 6600, updated_at = now() WHERE id = 1075;
UPDATE accounts SET balance_cents = balance_cents + 6600, updated_at = now() WHERE id = 1008;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1075, 1008, 6600, now(), 'concert tickets' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 5675, updated_at = now() WHERE id = 1005;
UPDATE accounts SET balance_cents = balance_cents + 5675, updated_at = now() WHERE id = 1012;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1005, 1012, 5675, now(), 'car pool' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 1275, updated_at = now() WHERE id = 1009;
UPDATE accounts SET balance_cents = balance_cents + 1275, updated_at = now() WHERE id = 1031;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1009, 1031, 1275, now(), 'car pool' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 1700, updated_at = now() WHERE id = 1008;
UPDATE accounts SET balance_cents = balance_cents + 1700, updated_at = now() WHERE id = 1073;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1008, 1073, 1700, now(), 'concert tickets' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 7500, updated_at = now() WHERE id = 1075;
UPDATE accounts SET balance_cents = balance_cents + 7500, updated_at = now() WHERE id = 1008;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1075, 1008, 7500, now(), 'car pool' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 700, updated_at = now() WHERE id = 1007;
UPDATE accounts SET balance_cents = balance_cents + 700, updated_at = now() WHERE id = 1029;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1007, 1029, 700, now(), 'birthday present' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 1950, updated_at = now() WHERE id = 1038;
UPDATE accounts SET balance_cents = balance_cents + 1950, updated_at = now() WHERE id = 1054;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1038, 1054, 1950, now(), 'dinner' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 7275, updated_at = now() WHERE id = 1074;
UPDATE accounts SET balance_cents = balance_cents + 7275, updated_at = now() WHERE id = 1040;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1074, 1040, 7275, now(), 'birthday present' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 7425, updated_at = now() WHERE id = 1014;
UPDATE accounts SET balance_cents = balance_cents + 7425, updated_at = now() WHERE id = 1075;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1014, 1075, 7425, now(), 'concert tickets' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 7125, updated_at = now() WHERE id = 1048;
UPDATE accounts SET balance_cents = balance_cents + 7125, updated_at = now() WHERE id = 1013;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1048, 1013, 7125, now(), 'dinner' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 8025, updated_at = now() WHERE id = 1073;
UPDATE accounts SET balance_cents = balance_cents + 8025, updated_at = now() WHERE id = 1008;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1073, 1008, 8025, now(), 'concert tickets' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 5575, updated_at = now() WHERE id = 1064;
UPDATE accounts SET balance_cents = balance_cents + 5575, updated_at = now() WHERE id = 1069;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1064, 1069, 5575, now(), 'groceries' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 5925, updated_at = now() WHERE id = 1060;
UPDATE accounts SET balance_cents = balance_cents + 5925, updated_at = now() WHERE id = 1075;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1060, 1075, 5925, now(), 'groceries' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 2425, updated_at = now() WHERE id = 1039;
UPDATE accounts SET balance_cents = balance_cents + 2425, updated_at = now() WHERE id = 1032;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1039, 1032, 2425, now(), 'concert tickets' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 3950, updated_at = now() WHERE id = 1011;
UPDATE accounts SET balance_cents = balance_cents + 3950, updated_at = now() WHERE id = 1074;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1011, 1074, 3950, now(), 'holiday flat' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 3800, updated_at = now() WHERE id = 1044;
UPDATE accounts SET balance_cents = balance_cents + 3800, updated_at = now() WHERE id = 1058;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1044, 1058, 3800, now(), 'dinner' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 5475, updated_at = now() WHERE id = 1016;
UPDATE accounts SET balance_cents = balance_cents + 5475, updated_at = now() WHERE id = 1066;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1016, 1066, 5475, now(), 'birthday present' FROM transfers;
COMMIT;

BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 6375, updated_at = now() WHERE id = 1044;
UPDATE accounts SET balance_cents = balance_cents + 6375, updated_at = now() WHERE id = 1020;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1044, 1020, 6375, now(), 'car pool' FROM transfers;
COMMIT;

-- A transfer that is abandoned: ROLLBACK undoes both updates and the ledger row.
BEGIN;
UPDATE accounts SET balance_cents = balance_cents - 99999, updated_at = now() WHERE id = 1024;
UPDATE accounts SET balance_cents = balance_cents + 99999, updated_at = now() WHERE id = 1040;
INSERT INTO transfers (id, from_account, to_account, amount_cents, made_at, memo)
    SELECT coalesce(max(id), 0) + 1, 1024, 1040, 99999, now(), 'never happened' FROM transfers;
ROLLBACK;

-- Guarded transfers: one UPDATE moves the money only if the payer holds enough (the
-- subquery reads the balance as the statement starts), so it is all or nothing without
-- BEGIN (they are not in the ledger). On the fresh demo data account 1058 can afford
-- 500.00 euros; nobody can afford 9000.00.
UPDATE accounts
SET balance_cents = balance_cents + CASE id WHEN 1058 THEN -50000 ELSE 50000 END,
    updated_at = now()
WHERE id IN (1058, 1012)
  AND (SELECT balance_cents FROM accounts WHERE id = 1058) >= 50000;

UPDATE accounts
SET balance_cents = balance_cents + CASE id WHEN 1002 THEN -900000 ELSE 900000 END,
    updated_at = now()
WHERE id IN (1002, 1072)
  AND (SELECT balance_cents FROM accounts WHERE id = 1002) >= 900000;

-- The ledger and the accounts it touched.
SELECT count(*) AS transfers, sum(amount_cents) AS moved_cents FROM transfers;

SELECT a.id, c.name, a.balance_cents
FROM accounts a JOIN customers c ON c.id = a.customer_id
WHERE a.id IN (SELECT from_account FROM transfers UNION SELECT to_account FROM transfers)
ORDER BY a.id;

-- After: the same total as before.
SELECT count(*) AS accounts, sum(balance_cents) AS total_cents FROM accounts;
