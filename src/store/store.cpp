#include "store/store.hpp"

#include <stdexcept>

#include "store/sqlite_store.hpp"

namespace sb::store {

std::unique_ptr<Store> open_store(const StoreOptions& options) {
  if (options.kind == "sqlite") return open_sqlite_store(options);
  throw std::runtime_error("unsupported store kind \"" + options.kind + "\" (expected \"sqlite\")");
}

}  // namespace sb::store
