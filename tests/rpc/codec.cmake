# The dht-rpc codec: datagrams, node ids, tokens, NAT sampler.
#   unit:    dht-rpc's own bytes (tests/rpc/vectors.json) both ways, bad
#            input, seeded mutations of every vector
#   interop: regenerates vectors.json with the pinned npm packages and compares
ht_test(rpc_codec LABELS unit interop
  SOURCES codec_vectors.cpp test_codec_message.cpp test_codec_interop.cpp
  LIBS ht_dht_rpc nlohmann_json::nlohmann_json)
target_compile_definitions(test_rpc_codec PRIVATE HT_RPC_VECTORS="${CMAKE_CURRENT_SOURCE_DIR}/vectors.json")
