#pragma once
// PgStore: the Store implementation on PostgreSQL (15), shared by every node of a cluster.
//
// How: libpq (pg_connection.hpp) with prepared statements, one statement per operation in
// autocommit (each is its own transaction: UPDATE ... RETURNING for the atomic failed-login
// counter, INSERT ... ON CONFLICT for settings), so concurrent nodes need no explicit locking.
// Usernames are matched through a lower-cased key column, folded in C++ exactly as SqliteStore
// does (ASCII; auth restricts names to [A-Za-z0-9_.-]). The schema comes from versioned files
// src/store/migrations/postgres/NNNN_name.sql embedded at build time; opening applies the missing
// ones in one transaction under pg_advisory_xact_lock and records them in schema_migrations, so
// nodes starting together apply each exactly once; a database newer than the build is refused.
//
// Pool: Store objects borrow a connection from a PgPool for each call and give it back after.
// open_pg_store gives a Store its own pool of one connection (a Store is used by one thread at a
// time, so it never needs two); make_pg_store_factory shares one pool of postgres.pool_size
// connections among all the Stores it makes: in a node, the auth workers (which also run the
// admin jobs). pool_size is therefore the most connections a node opens to PostgreSQL; workers
// beyond it wait for a free connection (at most connect + statement timeout, then unavailable).
//
// Bounds and failures: each connection attempt is bounded by connect_timeout_ms, each statement
// by statement_timeout_ms on the server and statement + connect timeout on the client; a
// database that is down makes a call answer Errc::unavailable after at most one connect timeout
// (at once while the connection backs off), never a hang; connections come back by themselves.
// Transient errors are retried (max_retries); errors map as described in pg_connection.hpp.
//
// Threading: a Store object is used by one thread at a time; the shared pool is thread-safe.
// No libpq type appears outside src/store.
#include <memory>

#include "store/store.hpp"

namespace sb::store {

/// Connects to options.postgres.conninfo and applies the pending migrations. Throws
/// std::runtime_error when the database cannot be reached or migrated (start-up only). Any thread.
std::unique_ptr<Store> open_pg_store(const StoreOptions& options);

/// Connects once and migrates now (throws like open_pg_store), then returns a factory whose Store
/// objects share one pool of options.postgres.pool_size connections. Any thread.
StoreFactory make_pg_store_factory(const StoreOptions& options);

}  // namespace sb::store
