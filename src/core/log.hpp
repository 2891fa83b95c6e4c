#pragma once
// Structured logging: spdlog with one logger per process, configured in main().
#include <spdlog/spdlog.h>

#define SB_CHECK(cond)                                                              \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      spdlog::critical("check failed: {} at {}:{}", #cond, __FILE__, __LINE__);   \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)
