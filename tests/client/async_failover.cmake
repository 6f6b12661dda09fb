# The asynchronous API across a Sentinel failover (included from
# tests/client/CMakeLists.txt): lib_async_failover.sh starts real
# redis-server / redis-sentinel processes and marshal-controller, and drives
# async_failover (a libev program over include/marshal/async.h that keeps up
# to 1000 writes in flight) through a kill -9 of the master.
# Tools: bash, jq, redis-server, redis-sentinel, redis-cli; exit 77 = skipped.
#
# RESOURCE_LOCK marshal_ctl_integration: the lock every failover-timing test
# takes (see lib_tests.cmake).
if(TARGET marshal-shm)
  add_executable(async_failover ${CMAKE_CURRENT_LIST_DIR}/async_failover.c)
  target_include_directories(async_failover PRIVATE ${PROJECT_SOURCE_DIR}/include
                                                    ${LIBEV_INCLUDE_DIR})
  target_link_libraries(async_failover PRIVATE marshal-shm PkgConfig::HIREDIS ${LIBEV_LIBRARY})
  add_test(NAME lib_async_failover
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/lib_async_failover.sh
                   $<TARGET_FILE:marshal-controller> $<TARGET_FILE:marshal-shmdump>
                   $<TARGET_FILE:async_failover>)
  set_tests_properties(lib_async_failover PROPERTIES
                       LABELS integration TIMEOUT 180 SKIP_RETURN_CODE 77
                       RESOURCE_LOCK marshal_ctl_integration)
endif()
