# libmarshal-shm integration tests (included from tests/client/CMakeLists.txt):
# bash scripts that start real redis-server / redis-sentinel processes on
# 127.0.0.1 ports picked at run time and marshal-controller, and drive the
# library through mc_probe (a small CLI over include/marshal/marshal.h).
# Helpers: lib_common.sh on top of tests/controller/integration/ctl_lib.sh.
# Tools: bash, jq, redis-server, redis-sentinel, redis-cli; exit 77 = skipped.
#
# RESOURCE_LOCK marshal_ctl_integration: the same lock as the controller's
# integration tests -- they all time failovers against real sentinels, and
# running two at once on a small machine only makes each slower.
if(TARGET marshal-shm)
  add_executable(mc_probe ${CMAKE_CURRENT_LIST_DIR}/mc_probe.c)
  target_link_libraries(mc_probe PRIVATE marshal-shm PkgConfig::HIREDIS)
  target_include_directories(mc_probe PRIVATE ${PROJECT_SOURCE_DIR}/include)

  set(MARSHAL_LIB_IT_TESTS
    failover
    split
    readonly
    replica_kill
    events
    slave_events
    stale
  )
  foreach(t IN LISTS MARSHAL_LIB_IT_TESTS)
    add_test(NAME lib_${t}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/lib_${t}.sh
                     $<TARGET_FILE:marshal-controller> $<TARGET_FILE:marshal-shmdump>
                     $<TARGET_FILE:mc_probe>)
    set_tests_properties(lib_${t} PROPERTIES
                         LABELS integration TIMEOUT 180 SKIP_RETURN_CODE 77
                         RESOURCE_LOCK marshal_ctl_integration)
  endforeach()
endif()

# marshal0 clusters against real servers and Debian's nutcracker (twemproxy).
if(TARGET marshal-shm)
  add_executable(cluster_check ${CMAKE_CURRENT_LIST_DIR}/cluster_check.c)
  target_link_libraries(cluster_check PRIVATE marshal-shm PkgConfig::HIREDIS)
  # lib_cluster: ketama against Debian's nutcracker; lib_slots: distribution
  # slots with a cluster-enabled redis-server as the slot oracle
  foreach(t IN ITEMS cluster slots)
    add_test(NAME lib_${t}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/lib_${t}.sh
                     $<TARGET_FILE:marshal-controller> $<TARGET_FILE:marshal-shmdump>
                     $<TARGET_FILE:cluster_check>)
    set_tests_properties(lib_${t} PROPERTIES
                         LABELS integration TIMEOUT 180 SKIP_RETURN_CODE 77
                         RESOURCE_LOCK marshal_ctl_integration)
  endforeach()
endif()

# marshal1 mirrors and marshal10 farms against real servers (mirror_check:
# a driver over the public API).
if(TARGET marshal-shm)
  add_executable(mirror_check ${CMAKE_CURRENT_LIST_DIR}/mirror_check.c)
  target_link_libraries(mirror_check PRIVATE marshal-shm PkgConfig::HIREDIS)
  foreach(t IN ITEMS mirror farm)
    add_test(NAME lib_${t}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/lib_${t}.sh
                     $<TARGET_FILE:marshal-controller> $<TARGET_FILE:marshal-shmdump>
                     $<TARGET_FILE:mirror_check>)
    set_tests_properties(lib_${t} PROPERTIES
                         LABELS integration TIMEOUT 180 SKIP_RETURN_CODE 77
                         RESOURCE_LOCK marshal_ctl_integration)
  endforeach()
endif()
