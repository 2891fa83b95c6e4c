#include "store/store.hpp"

#include <stdexcept>

#include "store/pg_store.hpp"
#include "store/sqlite_store.hpp"

namespace sb::store {
namespace {

[[noreturn]] void unsupported(const StoreOptions& options) {
  throw std::runtime_error("unsupported store kind \"" + options.kind +
                           "\" (expected \"sqlite\" or \"postgres\")");
}

}  // namespace

std::unique_ptr<Store> open_store(const StoreOptions& options) {
  if (options.kind == "sqlite") return open_sqlite_store(options);
  if (options.kind == "postgres") return open_pg_store(options);
  unsupported(options);
}

StoreFactory make_store_factory(const StoreOptions& options) {
  if (options.kind == "sqlite") {
    open_sqlite_store(options).reset();  // a bad path fails now; creates the schema
    return [options] { return open_sqlite_store(options); };
  }
  if (options.kind == "postgres") return make_pg_store_factory(options);
  unsupported(options);
}

}  // namespace sb::store
