# The dht-rpc codec: datagrams, node ids, tokens, NAT sampler.
#   unit:    dht-rpc's own bytes (tests/rpc/vectors.json) both ways, bad
#            input, 200,000 seeded mutations of the vectors; tokens and
#            nat-sampler against the JS code's outputs
#   interop: regenerates vectors.json with the pinned npm packages and compares;
#            random datagrams we encode, decoded by dht-rpc itself
ht_test(rpc_codec LABELS unit interop
  SOURCES codec_vectors.cpp test_codec_message.cpp test_codec_token.cpp test_codec_nat.cpp
          test_codec_fuzz.cpp test_codec_interop.cpp
  LIBS ht_dht_rpc nlohmann_json::nlohmann_json)
target_compile_definitions(test_rpc_codec PRIVATE HT_RPC_VECTORS="${CMAKE_CURRENT_SOURCE_DIR}/vectors.json")

# libFuzzer target (clang only): cmake -DHT_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++
# tests/wire declares the same option; whichever folder comes first does.
if(NOT DEFINED HT_FUZZ)
  option(HT_FUZZ "Build libFuzzer targets for the wire decoders (needs clang)" OFF)
endif()
if(HT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "HT_FUZZ needs clang (-DCMAKE_CXX_COMPILER=clang++)")
  endif()
  # Instrument the decoder and what it is built from, so that libFuzzer's
  # coverage sees their branches (CMake drops the duplicate if tests/wire
  # instruments ht_dht_encoding and ht_dht_noise too).
  foreach(lib ht_dht_encoding ht_dht_noise ht_dht_rpc)
    target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  endforeach()
  add_executable(fuzz_rpc_message fuzz/fuzz_rpc_message.cpp)
  target_compile_options(fuzz_rpc_message PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_rpc_message PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_rpc_message PRIVATE ht_dht_rpc)
endif()
