// Routing table: rows by shared prefix, k per row, recency order, exact
// XOR-sorted closest(), eviction candidates, random ids per row.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "dht/rpc/routing_table.hpp"

using namespace ht::rpc;

namespace {

key32 random_key(std::mt19937_64& rng) {
  key32 k;
  for (auto& b : k) b = uint8_t(rng());
  return k;
}

// An id in row `row` of a table with id `self`.
key32 id_in_row(const key32& self, size_t row, std::mt19937_64& rng) {
  routing_table t(self);
  return t.random_id_in_row(row, rng);
}

table_node make_node(const key32& id, uint16_t port) {
  table_node n;
  n.id = id;
  n.addr = ht::enc::ipv4_address::parse("10.0.0.1", port);
  return n;
}

} // namespace

TEST_CASE("shared prefix and XOR distance order", "[unit][rpc][table]") {
  key32 a{}, b{};
  CHECK(shared_prefix_bits(a, b) == 256);
  b[0] = 0x80;
  CHECK(shared_prefix_bits(a, b) == 0);
  b[0] = 0x01;
  CHECK(shared_prefix_bits(a, b) == 7);
  b[0] = 0;
  b[31] = 1;
  CHECK(shared_prefix_bits(a, b) == 255);

  key32 t{}, x{}, y{};
  x[0] = 0x01;
  y[0] = 0x02;
  CHECK(compare_distance(t, x, y) < 0);
  t[0] = 0x03;  // x^t = 2, y^t = 1
  CHECK(compare_distance(t, x, y) > 0);
  CHECK(compare_distance(t, x, x) == 0);
}

TEST_CASE("nodes go to the row of their shared prefix, at most k per row", "[unit][rpc][table]") {
  std::mt19937_64 rng(1);
  const key32 self = random_key(rng);
  routing_table t(self, 20);
  CHECK(t.add(make_node(self, 1)) == routing_table::add_result::self);

  std::vector<key32> row3;
  for (int i = 0; i < 20; i++) {
    row3.push_back(id_in_row(self, 3, rng));
    CHECK(t.row_of(row3.back()) == 3);
    CHECK(t.add(make_node(row3.back(), uint16_t(1000 + i))) == routing_table::add_result::added);
  }
  CHECK(t.size() == 20);
  // The 21st node of row 3 does not fit; other rows still take nodes.
  const key32 extra = id_in_row(self, 3, rng);
  CHECK(t.add(make_node(extra, 2000)) == routing_table::add_result::full);
  CHECK(t.get(extra) == nullptr);
  CHECK(t.add(make_node(id_in_row(self, 4, rng), 2001)) == routing_table::add_result::added);
  CHECK(t.size() == 21);
  // Adding a known id again updates it in place.
  auto again = make_node(row3[5], 3000);
  CHECK(t.add(again) == routing_table::add_result::updated);
  CHECK(t.get(row3[5])->addr.port == 3000);
  CHECK(t.size() == 21);
  // Removal frees the slot.
  CHECK(t.remove(row3[0]));
  CHECK_FALSE(t.remove(row3[0]));
  CHECK(t.get(row3[0]) == nullptr);
  CHECK(t.add(make_node(extra, 2000)) == routing_table::add_result::added);
  CHECK(t.row(3).size() == 20);
}

TEST_CASE("recency: a node seen again becomes the most recent", "[unit][rpc][table]") {
  std::mt19937_64 rng(2);
  routing_table t(random_key(rng));
  std::vector<key32> ids;
  for (int i = 0; i < 5; i++) {
    ids.push_back(random_key(rng));
    t.add(make_node(ids.back(), uint16_t(i + 1)));
  }
  CHECK(t.oldest(1).front()->id == ids[0]);
  t.touch(ids[0]);
  CHECK(t.oldest(1).front()->id == ids[1]);
  CHECK(t.latest(1).front()->id == ids[0]);
  auto old = t.oldest(10);
  REQUIRE(old.size() == 5);
  CHECK(old[0]->id == ids[1]);
  CHECK(old[4]->id == ids[0]);
  t.remove(ids[1]);
  CHECK(t.oldest(1).front()->id == ids[2]);
  auto snap = t.snapshot();
  REQUIRE(snap.size() == 4);
  CHECK(snap.front().id == ids[2]);
  CHECK(snap.back().id == ids[0]);
}

TEST_CASE("closest() is exactly XOR-sorted", "[unit][rpc][table]") {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 20; round++) {
    const key32 self = random_key(rng);
    routing_table t(self, 20);
    std::vector<key32> stored;
    // Many nodes everywhere, plus dense rows near us and near some targets.
    for (int i = 0; i < 600; i++) {
      key32 id = i % 3 == 0 ? id_in_row(self, size_t(rng() % 12), rng) : random_key(rng);
      if (t.add(make_node(id, uint16_t(i + 1))) == routing_table::add_result::added) stored.push_back(id);
    }
    REQUIRE(t.size() == stored.size());
    for (int q = 0; q < 20; q++) {
      key32 target = q % 2 ? random_key(rng) : id_in_row(self, size_t(rng() % 10), rng);
      if (q == 0) target = self;
      if (q == 1) target = stored[0];
      auto want = stored;
      std::sort(want.begin(), want.end(),
                [&](const key32& a, const key32& b) { return compare_distance(target, a, b) < 0; });
      const size_t n = q == 2 ? 1000 : 20;
      want.resize(std::min(n, want.size()));
      auto got = t.closest(target, n);
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < want.size(); i++) CHECK(got[i]->id == want[i]);
    }
  }
}

// closest() walks rows outward from the target's row into a bounded
// sorted list; here it must equal a plain sort of the whole table, for
// small and sparse tables, every n, targets in every kind of row, and with
// the caller's buffer reused between calls (stale entries must not leak).
TEST_CASE("closest() by rows equals a sort of the whole table, buffer reused", "[unit][rpc][table]") {
  std::mt19937_64 rng(11);
  std::vector<const table_node*> out{reinterpret_cast<const table_node*>(&rng)};  // stale garbage
  for (int round = 0; round < 200; round++) {
    const key32 self = random_key(rng);
    routing_table t(self, 1 + rng() % 20);
    std::vector<key32> stored;
    const int count = round % 5 == 0 ? int(rng() % 3) : int(rng() % 120);
    for (int i = 0; i < count; i++) {
      key32 id;
      switch (rng() % 4) {
        case 0: id = id_in_row(self, size_t(rng() % 256), rng); break;  // deep rows too
        case 1: id = id_in_row(self, size_t(rng() % 6), rng); break;
        default: id = random_key(rng); break;
      }
      if (t.add(make_node(id, uint16_t(i + 1))) == routing_table::add_result::added) stored.push_back(id);
    }
    for (int q = 0; q < 12; q++) {
      key32 target;
      switch (q % 4) {
        case 0: target = self; break;
        case 1: target = stored.empty() ? random_key(rng) : stored[rng() % stored.size()]; break;
        case 2: target = id_in_row(self, size_t(rng() % 256), rng); break;
        default: target = random_key(rng); break;
      }
      const size_t sizes[] = {0, 1, 2, 5, 20, 21, 1000};
      const size_t n = sizes[rng() % 7];
      auto want = stored;
      std::sort(want.begin(), want.end(),
                [&](const key32& a, const key32& b) { return compare_distance(target, a, b) < 0; });
      want.resize(std::min(n, want.size()));
      t.closest(target, n, out);
      REQUIRE(out.size() == want.size());
      for (size_t i = 0; i < want.size(); i++) REQUIRE(out[i]->id == want[i]);
      auto copy = t.closest(target, n);
      REQUIRE(copy == out);
    }
  }
}

TEST_CASE("a full row names its least recently pinged node for eviction", "[unit][rpc][table]") {
  std::mt19937_64 rng(4);
  const key32 self = random_key(rng);
  routing_table t(self, 3);
  std::vector<key32> ids;
  for (int i = 0; i < 3; i++) {
    ids.push_back(id_in_row(self, 0, rng));
    auto n = make_node(ids.back(), uint16_t(i + 1));
    n.pinged = 10 + uint64_t(i);
    n.added = 5;
    t.add(n);
  }
  const key32 newcomer = id_in_row(self, 0, rng);
  CHECK(t.add(make_node(newcomer, 9)) == routing_table::add_result::full);
  CHECK(t.eviction_candidate(newcomer, 50)->id == ids[0]);
  // Equal ping times: the oldest added goes first.
  t.get(ids[0])->pinged = 11;
  t.get(ids[1])->added = 4;
  CHECK(t.eviction_candidate(newcomer, 50)->id == ids[1]);
  // Nodes pinged this tick are skipped; none left: no candidate.
  for (auto& id : ids) t.get(id)->pinged = 50;
  CHECK(t.eviction_candidate(newcomer, 50) == nullptr);
}

TEST_CASE("random ids fall into the requested row; random nodes are stored ones",
          "[unit][rpc][table]") {
  std::mt19937_64 rng(5);
  const key32 self = random_key(rng);
  routing_table t(self);
  for (size_t row : {size_t(0), size_t(1), size_t(7), size_t(8), size_t(100), size_t(254), size_t(255)})
    for (int i = 0; i < 50; i++) CHECK(t.row_of(t.random_id_in_row(row, rng)) == row);
  CHECK(t.random_node(rng) == nullptr);
  std::vector<key32> ids;
  for (int i = 0; i < 30; i++) {
    ids.push_back(random_key(rng));
    t.add(make_node(ids.back(), uint16_t(i + 1)));
  }
  for (int i = 0; i < 50; i++) {
    const table_node* n = t.random_node(rng);
    REQUIRE(n);
    CHECK(std::find(ids.begin(), ids.end(), n->id) != ids.end());
  }
}
