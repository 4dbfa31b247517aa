// The tracer API: hypertrace's createTracer/trace/setParent semantics, the
// caller capture, the global trace function, and the cost of tracing off.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "actors/client/tracer.hpp"

// Counts allocations of the current thread, to prove tracing off allocates
// nothing. Replacing operator new is allowed for the whole program.
static thread_local size_t allocations = 0;
void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc{};
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++allocations;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace app {
struct Room {
  ht::tracer tracer;
  explicit Room(ht::tracer_options opts = {})
    : tracer(ht::create_tracer(this, std::move(opts))) {}
  void join() { tracer.trace("join", {{"user", 7}}); }
  void leave() { tracer.trace("leave"); }
  void ping() { HT_TRACE(tracer, "ping"); }
};
struct Door {
  ht::tracer tracer = ht::create_tracer(this);
  void open() { tracer.trace(); }
};
} // namespace app

namespace {

struct captured {
  std::string id, class_name, function, file;
  uint64_t object_id = 0;
  bool has_props = false;
  ht::json props;
  std::string parent_class;
};

struct capture_sink {
  std::vector<captured> got;
  uint64_t token = 0;
  capture_sink() {
    token = ht::set_trace_function([this](ht::trace_event& ev) {
      captured c;
      c.id = std::string{ev.id};
      c.class_name = ev.object->cls->name;
      c.object_id = ev.object->id;
      c.function = ev.caller.function_name;
      c.file = ev.caller.filename;
      if (ev.caller_props) {
        c.has_props = true;
        c.props = std::move(*ev.caller_props);
      }
      if (ev.parent)
        c.parent_class = ev.parent->cls->name;
      got.push_back(std::move(c));
    });
  }
  ~capture_sink() { ht::clear_trace_function(token); }
};

} // namespace

TEST_CASE("tracing off: a shared no-op tracer, no ids used, nothing traced",
          "[unit]") {
  ht::clear_trace_function();
  app::Room off;
  CHECK_FALSE(off.tracer.enabled());
  CHECK(off.tracer.object_id() == 0);
  CHECK(off.tracer.class_name().empty());
  CHECK(off.tracer.props().is_null());
  {
    capture_sink sink;
    off.join(); // created while off: stays a no-op, as NoTracingClass does
    CHECK(sink.got.empty());
    app::Room on;
    on.leave();
    REQUIRE(sink.got.size() == 1);
    // Ids count per class and the no-op tracer used none.
    CHECK(sink.got[0].object_id == on.tracer.object_id());
  }
}

TEST_CASE("tracing off: trace() allocates nothing, HT_TRACE builds no props",
          "[unit]") {
  capture_sink* sink = new capture_sink;
  app::Room room; // enabled tracer
  delete sink;    // tracing now off
  REQUIRE(room.tracer.enabled());
  REQUIRE_FALSE(ht::tracing_enabled());
  int built = 0;
  auto props = [&] { ++built; return ht::json{{"k", 1}}; };
  size_t before = allocations;
  for (int i = 0; i < 1000; ++i) {
    room.leave();
    room.ping();
    HT_TRACE(room.tracer, "lazy", props());
    ht::tracer{}.trace("x");
  }
  CHECK(allocations - before == 0);
  CHECK(built == 0);
}

TEST_CASE("object ids count per class from 1; class names lose namespaces",
          "[unit]") {
  capture_sink sink;
  app::Room a, b;
  app::Door d;
  CHECK(a.tracer.class_name() == "Room");
  CHECK(d.tracer.class_name() == "Door");
  CHECK(b.tracer.object_id() == a.tracer.object_id() + 1);
  CHECK(d.tracer.object_id() >= 1);
  auto named1 = ht::create_tracer("Explicit");
  auto named2 = ht::create_tracer("Explicit");
  CHECK(named1.object_id() == 1);
  CHECK(named2.object_id() == 2);
  CHECK(named1.class_name() == "Explicit");
}

TEST_CASE("trace carries id, caller function and file, and props as given",
          "[unit]") {
  capture_sink sink;
  app::Room room({{{"name", "lobby"}}, nullptr});
  CHECK(room.tracer.props() == ht::json{{"name", "lobby"}});
  room.join();
  room.leave();
  room.ping();
  app::Door door;
  door.open();
  REQUIRE(sink.got.size() == 4);
  CHECK(sink.got[0].id == "join");
  CHECK(sink.got[0].function == "join");
  CHECK(sink.got[0].file == __FILE__);
  CHECK(sink.got[0].has_props);
  CHECK(sink.got[0].props == ht::json{{"user", 7}});
  CHECK(sink.got[1].id == "leave");
  CHECK(sink.got[1].function == "leave");
  CHECK_FALSE(sink.got[1].has_props); // JS: caller.props undefined
  CHECK(sink.got[2].function == "ping"); // through HT_TRACE
  CHECK(sink.got[2].file == __FILE__);
  CHECK(sink.got[3].id.empty()); // no id: null
  CHECK(sink.got[3].function == "open");
  CHECK(sink.got[3].class_name == "Door");
}

TEST_CASE("set_parent and the parent option", "[unit]") {
  capture_sink sink;
  app::Door door;
  app::Room room({nullptr, &door.tracer});
  REQUIRE(room.tracer.parent());
  CHECK(room.tracer.parent()->cls->name == "Door");
  room.leave();
  room.tracer.set_parent(nullptr);
  CHECK_FALSE(room.tracer.parent());
  room.leave();
  room.tracer.set_parent(&door.tracer);
  ht::tracer off;
  room.tracer.set_parent(&off); // a no-op parent is no parent
  CHECK_FALSE(room.tracer.parent());
  REQUIRE(sink.got.size() == 2);
  CHECK(sink.got[0].parent_class == "Door");
  CHECK(sink.got[1].parent_class.empty());
}

TEST_CASE("trace functions: replace, clear by token, errors swallowed",
          "[unit]") {
  int first = 0, second = 0;
  auto t1 = ht::set_trace_function([&](ht::trace_event&) { ++first; });
  app::Door door;
  door.open();
  auto t2 = ht::set_trace_function([&](ht::trace_event&) { ++second; });
  door.open();
  ht::clear_trace_function(t1); // not the installed one: no effect
  door.open();
  CHECK(first == 1);
  CHECK(second == 2);
  ht::clear_trace_function(t2);
  door.open();
  CHECK(second == 2);
  auto errors = ht::trace_function_errors();
  auto t3 = ht::set_trace_function([](ht::trace_event&) { throw std::runtime_error("sink bug"); });
  CHECK_NOTHROW(door.open());
  CHECK(ht::trace_function_errors() == errors + 1);
  ht::clear_trace_function(t3);
}

TEST_CASE("bare function names from full signatures", "[unit]") {
  using ht::call_site;
  CHECK(std::string{call_site::bare_function_name("void app::Room::join(int)")} == "join");
  CHECK(std::string{call_site::bare_function_name("int main()")} == "main");
  CHECK(std::string{call_site::bare_function_name(
          "std::vector<int> ns::f<std::pair<int, int> >(T)")} == "f<std::pair<int, int> >");
  CHECK(std::string{call_site::bare_function_name("auto X::operator()(int) const")}
        == "operator()");
}
