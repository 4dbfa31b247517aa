#include "vectors.hpp"


namespace ht::wire_test {

const nlohmann::json& vectors() {
  static const nlohmann::json v = test::read_vector_file(HT_WIRE_VECTORS);
  return v;
}

} // namespace ht::wire_test
