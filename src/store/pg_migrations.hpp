#pragma once
// The PostgreSQL schema migrations, embedded into the binary at build time from
// src/store/migrations/postgres/NNNN_name.sql (cmake/embed_migrations.cmake). Ordered by version;
// versions start at 1 and have no gaps (checked when applied). Used only by pg_connection.cpp.
#include <cstddef>

namespace sb::store {

struct PgMigration {
  int version;       // the file name's leading number
  const char* name;  // the file name without .sql, recorded in schema_migrations
  const char* sql;   // one or more statements, run inside the migration transaction
};

extern const PgMigration kPgMigrations[];
extern const std::size_t kPgMigrationCount;

}  // namespace sb::store
