-- name: OpenWallet :exec
-- A new user's wallet: the head of its hash chain and its account status. It holds no
-- balance row yet: a currency the user never held reads as zero.
INSERT INTO wallets (user_id, default_currency) VALUES (@user_id, @default_currency)
ON CONFLICT (user_id) DO NOTHING;

-- name: GetWallet :one
SELECT user_id, default_currency, status, last_seq, last_hash FROM wallets WHERE user_id = @user_id;

-- name: GetWalletForUpdate :one
-- Locks the user's wallet row: every change to a user's money, in any currency, is
-- serialized here.
SELECT user_id, default_currency, status, last_seq, last_hash FROM wallets WHERE user_id = @user_id FOR UPDATE;

-- name: LockWallets :many
-- Locks several users' wallet rows in user id order, the order every transaction that
-- locks more than one takes them in, so none can deadlock another.
SELECT user_id, default_currency, status, last_seq, last_hash FROM wallets
WHERE user_id = ANY(@user_ids::text[])
ORDER BY user_id
FOR UPDATE;

-- name: BalancesOf :many
-- Every balance of some users. Read after LockWallets, in a statement of its own: in
-- READ COMMITTED a new statement sees every transaction that committed before the
-- locks were granted, where a join in the locking statement could return a balance
-- row as it was before the lock holder changed it.
SELECT user_id, currency, balance, frozen FROM balances WHERE user_id = ANY(@user_ids::text[]);

-- name: ReadBalance :one
-- A user's balance in one currency (its default when currency is ''), with the wallet
-- it belongs to, in one statement: one snapshot. No balance row reads as zero.
SELECT w.default_currency, w.status, w.last_seq,
       coalesce(nullif(@currency::text, ''), w.default_currency)::text AS currency,
       coalesce(b.balance, 0)::numeric(78,0) AS balance, coalesce(b.frozen, 0)::numeric(78,0) AS frozen
FROM wallets w
LEFT JOIN balances b ON b.user_id = w.user_id AND b.currency = coalesce(nullif(@currency::text, ''), w.default_currency)
WHERE w.user_id = @user_id;

-- name: ReadBalances :many
-- Every balance of a user, by currency, with its wallet, in one statement; one row
-- with currency '' when the user holds none yet.
SELECT w.default_currency, w.status, w.last_seq, coalesce(b.currency, '')::text AS currency,
       coalesce(b.balance, 0)::numeric(78,0) AS balance, coalesce(b.frozen, 0)::numeric(78,0) AS frozen
FROM wallets w
LEFT JOIN balances b ON b.user_id = w.user_id
WHERE w.user_id = @user_id
ORDER BY b.currency;

-- name: BalancesOfUser :many
-- One user's balances, for verify and rebuild (under the wallet's lock or snapshot).
SELECT currency, balance, frozen FROM balances WHERE user_id = @user_id ORDER BY currency;

-- name: SaveHeads :exec
-- Several wallet heads and balances in one statement: element i of the wallet arrays
-- is wallet i's new head; element j of the balance arrays is balance j, inserted the
-- first time a user holds its currency. Both are written under the wallets' locks.
WITH heads AS (
    UPDATE wallets w
    SET last_seq = v.last_seq, last_hash = v.last_hash, status = v.status, updated_at = now()
    FROM ROWS FROM (unnest(@wallet_user_ids::text[]), unnest(@last_seqs::bigint[]), unnest(@last_hashes::bytea[]),
                    unnest(@statuses::text[]))
         AS v(user_id, last_seq, last_hash, status)
    WHERE w.user_id = v.user_id
)
INSERT INTO balances (user_id, currency, balance, frozen, updated_at)
SELECT b.user_id, b.currency, b.balance::numeric, b.frozen::numeric, now()
FROM ROWS FROM (unnest(@balance_user_ids::text[]), unnest(@currencies::text[]), unnest(@balances::text[]),
                unnest(@frozen::text[]))
     AS b(user_id, currency, balance, frozen)
ON CONFLICT (user_id, currency) DO UPDATE SET balance = excluded.balance, frozen = excluded.frozen, updated_at = excluded.updated_at;

-- name: ListWalletUsers :many
-- For verify and rebuild: every user of the shard, in id order, in pages.
SELECT user_id FROM wallets WHERE user_id > @after ORDER BY user_id LIMIT @page_size;
