// Package accounts owns users: their ids, home region and status. A user id embeds its
// home region, and the user's row lives on the shard its id hashes to, next to all of
// the user's money.
package accounts
