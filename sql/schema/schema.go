// Package schema embeds the golang-migrate migrations that every shard runs. sqlc reads
// the same files to type the queries in sql/queries.
package schema

import "embed"

// Migrations holds the numbered *.up.sql and *.down.sql files of this folder.
//
//go:embed *.sql
var Migrations embed.FS
