# The asynchronous API on static groups, clusters and mirrors (included from
# tests/client/CMakeLists.txt): lib_async.sh starts real redis-server
# processes and marshal-controller (no sentinels) and drives async_check, a
# libev program over include/marshal/async.h and adapters/libev.h, through
# pipelining, parking bounds, the wake socket, command timeouts, cluster
# split/merge, mirror legs, close with commands in flight and events.
# Tools: bash, jq, redis-server, redis-cli; exit 77 = skipped.
#
# RESOURCE_LOCK marshal_ctl_integration: the lock of every test that times
# things against real servers (see lib_tests.cmake).
if(TARGET marshal-shm)
  add_executable(async_check ${CMAKE_CURRENT_LIST_DIR}/async_check.c)
  target_include_directories(async_check PRIVATE ${PROJECT_SOURCE_DIR}/include
                                                 ${LIBEV_INCLUDE_DIR})
  target_link_libraries(async_check PRIVATE marshal-shm PkgConfig::HIREDIS ${LIBEV_LIBRARY})
  add_test(NAME lib_async
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/lib_async.sh
                   $<TARGET_FILE:marshal-controller> $<TARGET_FILE:marshal-shmdump>
                   $<TARGET_FILE:async_check> $<TARGET_FILE:mc_probe>)
  set_tests_properties(lib_async PROPERTIES
                       LABELS integration TIMEOUT 180 SKIP_RETURN_CODE 77
                       RESOURCE_LOCK marshal_ctl_integration)
endif()
