# mc_place.cmake -- key placement primitives of libmarshal-shm (no networking):
# twemproxy's hash functions, MD5, Redis Cluster CRC16 slots and hash tags
# (mc_hash.c), the twemproxy-exact ketama/modula ring (mc_ring.c).
# Included from libclient/CMakeLists.txt and tests/unit/CMakeLists.txt;
# including it twice is harmless (include_guard).
#
#   marshal_place   STATIC, PIC, hidden visibility (linked into libmarshal-shm.so)
include_guard(GLOBAL)

add_library(marshal_place STATIC
            ${CMAKE_CURRENT_LIST_DIR}/mc_hash.c
            ${CMAKE_CURRENT_LIST_DIR}/mc_ring.c)
# mc_ring returns the public MARSHAL_ERR_* codes (include/marshal/marshal.h)
target_include_directories(marshal_place PUBLIC
                           ${CMAKE_CURRENT_LIST_DIR}
                           ${CMAKE_CURRENT_LIST_DIR}/../include)
set_target_properties(marshal_place PROPERTIES
                      POSITION_INDEPENDENT_CODE ON
                      C_VISIBILITY_PRESET hidden)
