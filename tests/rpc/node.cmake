# The dht-rpc node core: routing table, requests, queries, the node and a
# simulated network of node objects (no sockets).
ht_test(rpc_node LABELS unit
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_routing_table.cpp
                ${CMAKE_CURRENT_LIST_DIR}/test_requests.cpp
                ${CMAKE_CURRENT_LIST_DIR}/test_query.cpp
                ${CMAKE_CURRENT_LIST_DIR}/test_sim.cpp
                ${CMAKE_CURRENT_LIST_DIR}/test_node.cpp
                ${CMAKE_CURRENT_LIST_DIR}/test_wakeup.cpp
        LIBS ht_dht_rpc)
