#pragma once
// SqliteStore: the embedded Store implementation, one SQLite file per cluster (single node).
//
// How: each Store object owns one connection opened with sqlite3_open_v2(READWRITE|CREATE|
// NOMUTEX) in WAL mode with synchronous=FULL (a committed write survives power loss),
// foreign_keys=ON and the configured busy_timeout. Opening creates the parent directory and the
// schema if missing; the schema version lives in PRAGMA user_version and migrations run in order
// inside one BEGIN IMMEDIATE transaction, so concurrent openers apply them exactly once. Every
// statement is prepared once per connection and reset after each call, so no read snapshot or
// lock outlives a call. Each write is a single statement (UPDATE ... RETURNING for the atomic
// failed-login counter), so it is atomic against other connections without explicit transactions.
// Usernames are matched through a lower-cased key column (ASCII folding; auth restricts names
// to [A-Za-z0-9_.-]). Driver errors become Errc values at this boundary: unique violation →
// already_exists, missing ban target (foreign key) → not_found, BUSY/LOCKED after the busy timeout
// → unavailable, anything else → internal (logged at warn with sqlite3_errmsg).
//
// What not: no connection pool, no cache, no checkpoint management (SQLite's automatic
// checkpoints), no multi-node sharing of the file.
//
// Threading: one Store object is used by one thread at a time (NOMUTEX); any number of Store
// objects on the same file, in any threads or processes, are safe: writers serialise inside
// SQLite and wait up to busy_timeout_ms. No sqlite3 type appears outside sqlite_store.cpp.
#include <memory>

#include "store/store.hpp"

namespace sb::store {

/// Opens a connection to options.sqlite_path, creating the file, its parent directory and the
/// schema (or migrating it) as needed. Throws std::runtime_error on failure (start-up only).
std::unique_ptr<Store> open_sqlite_store(const StoreOptions& options);

}  // namespace sb::store
