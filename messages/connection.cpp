#include "messages/connection.hpp"

#include <atomic>

namespace ht {

connection_id next_connection_id() {
  static std::atomic<connection_id> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

} // namespace ht
