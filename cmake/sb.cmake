# Project helpers: every src/<module> is one static library whose link list names the only
# lower layers it may use; tests are GoogleTest executables registered with CTest.
set(SB_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wnon-virtual-dtor
    -Woverloaded-virtual -Wno-sign-conversion)
# GCC 12 at -O3 reports false positives inside libstdc++'s std::string (GCC bugs 105329, 105651):
# they are not about our code, so they must not fail a -Werror build.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND SB_WARNINGS -Wno-restrict -Wno-array-bounds -Wno-stringop-overflow -Wno-stringop-overread)
endif()
if(SB_WERROR)
  list(APPEND SB_WARNINGS -Werror)
endif()

# sb_add_module(NAME core DEPS a b ...) : builds src/<NAME>/*.cpp into sb_<NAME>.
function(sb_add_module)
  cmake_parse_arguments(M "" "NAME" "DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(srcs)
    add_library(sb_${M_NAME} STATIC ${srcs})
    target_include_directories(sb_${M_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_compile_options(sb_${M_NAME} PRIVATE ${SB_WARNINGS})
    target_link_libraries(sb_${M_NAME} PUBLIC ${M_DEPS})
  else()
    add_library(sb_${M_NAME} INTERFACE)
    target_include_directories(sb_${M_NAME} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(sb_${M_NAME} INTERFACE ${M_DEPS})
  endif()
endfunction()

# sb_add_test(NAME foo SOURCES a.cpp b.cpp DEPS libs LABELS unit)
function(sb_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_compile_options(${T_NAME} PRIVATE ${SB_WARNINGS})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main Threads::Threads)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()
