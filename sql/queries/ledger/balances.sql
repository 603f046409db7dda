-- name: OpenWallet :exec
-- A new user's wallet: the head of its hash chain and its account status. It holds no
-- balance row yet: a currency the user never held reads as zero.
INSERT INTO wallets (user_id, default_currency) VALUES (@user_id, @default_currency)
ON CONFLICT (user_id) DO NOTHING;

-- name: GetWallet :one
SELECT user_id, default_currency, status FROM wallets WHERE user_id = @user_id;

-- name: GetWalletForUpdate :one
-- Locks the user's wallet row: every change to a user's money, in any currency, is
-- serialized here.
SELECT user_id, default_currency, status FROM wallets WHERE user_id = @user_id FOR UPDATE;

-- name: LockWallets :many
-- Locks several users' wallet rows in user id order, the order every transaction that
-- locks more than one takes them in, so none can deadlock another.
SELECT user_id, default_currency, status FROM wallets
WHERE user_id = ANY(@user_ids::text[])
ORDER BY user_id
FOR UPDATE;

-- name: StateOf :many
-- What the next entries of some users are decided on: every balance (rows with a
-- currency) and the head of each user's chain, its newest entry's sequence number and
-- hash (rows with currency '', seq 0 and the genesis hash before the first entry), one
-- probe of the primary key per user. Read after LockWallets, in a statement of its
-- own: in READ COMMITTED a new statement sees every transaction that committed before
-- the locks were granted, where a join in the locking statement could return rows as
-- they were before the lock holder changed them.
SELECT b.user_id, b.currency, b.balance, b.frozen, 0::bigint AS seq, '\x'::bytea AS hash
FROM balances b
WHERE b.user_id = ANY(@user_ids::text[])
UNION ALL
SELECT u.user_id, ''::text, 0::numeric(78,0), 0::numeric(78,0), coalesce(e.seq, 0)::bigint,
       coalesce(e.hash, decode(repeat('00', 32), 'hex'))::bytea
FROM unnest(@user_ids::text[]) AS u (user_id)
LEFT JOIN LATERAL (
    SELECT h.seq, h.hash FROM ledger_entries h WHERE h.user_id = u.user_id ORDER BY h.seq DESC LIMIT 1
) e ON true;

-- name: ReadBalance :one
-- A user's balance in one currency (its default when currency is ''), with the wallet
-- it belongs to, in one statement: one snapshot. No balance row reads as zero.
SELECT w.default_currency, w.status,
       (SELECT coalesce(max(e.seq), 0) FROM ledger_entries e WHERE e.user_id = w.user_id)::bigint AS last_seq,
       coalesce(nullif(@currency::text, ''), w.default_currency)::text AS currency,
       coalesce(b.balance, 0)::numeric(78,0) AS balance, coalesce(b.frozen, 0)::numeric(78,0) AS frozen
FROM wallets w
LEFT JOIN balances b ON b.user_id = w.user_id AND b.currency = coalesce(nullif(@currency::text, ''), w.default_currency)
WHERE w.user_id = @user_id;

-- name: ReadBalances :many
-- Every balance of a user, by currency, with its wallet, in one statement; one row
-- with currency '' when the user holds none yet.
SELECT w.default_currency, w.status,
       (SELECT coalesce(max(e.seq), 0) FROM ledger_entries e WHERE e.user_id = w.user_id)::bigint AS last_seq,
       coalesce(b.currency, '')::text AS currency,
       coalesce(b.balance, 0)::numeric(78,0) AS balance, coalesce(b.frozen, 0)::numeric(78,0) AS frozen
FROM wallets w
LEFT JOIN balances b ON b.user_id = w.user_id
WHERE w.user_id = @user_id
ORDER BY b.currency;

-- name: BalancesOfUser :many
-- One user's balances, for verify and rebuild (under the wallet's lock or snapshot).
SELECT currency, balance, frozen FROM balances WHERE user_id = @user_id ORDER BY currency;

-- name: SaveBalances :exec
-- Several balances in one statement, written under their wallets' locks: element i of
-- every array is balance i, inserted the first time its user holds its currency.
INSERT INTO balances (user_id, currency, balance, frozen, updated_at)
SELECT b.user_id, b.currency, b.balance::numeric, b.frozen::numeric, now()
FROM ROWS FROM (unnest(@user_ids::text[]), unnest(@currencies::text[]), unnest(@balances::text[]),
                unnest(@frozen::text[]))
     AS b(user_id, currency, balance, frozen)
ON CONFLICT (user_id, currency) DO UPDATE SET balance = excluded.balance, frozen = excluded.frozen, updated_at = excluded.updated_at;

-- name: SetWalletStatuses :exec
-- The account statuses that changed, under the wallets' locks.
UPDATE wallets w SET status = v.status, updated_at = now()
FROM ROWS FROM (unnest(@user_ids::text[]), unnest(@statuses::text[])) AS v(user_id, status)
WHERE w.user_id = v.user_id;

-- name: ListWalletUsers :many
-- For verify and rebuild: every user of the shard, in id order, in pages.
SELECT user_id FROM wallets WHERE user_id > @after ORDER BY user_id LIMIT @page_size;
