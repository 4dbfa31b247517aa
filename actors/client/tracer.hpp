#pragma once
// The tracer API: the C++ counterpart of the npm `hypertrace` package.
//
//   class Room {
//     ht::tracer tracer_ = ht::create_tracer(this, {{{"name", "lobby"}}});
//     void join() { tracer_.trace("join", {{"user", 7}}); }
//   };
//
// While no trace function is installed, create_tracer() returns a shared
// no-op tracer whose trace() returns at once: no allocation, no lock, no
// atomic operation. An enabled tracer costs one acquire load while tracing
// is off. A trace function installed with set_trace_function() receives each
// trace; the client (actors/client/client.hpp) installs itself when started.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>

#include <nlohmann/json.hpp>

#if !(defined(__GNUC__) || defined(__clang__)) && defined(__has_include)
#  if __has_include(<source_location>)
#    include <source_location>
#  endif
#endif

namespace ht {

/// Props are JSON objects that keep their keys in insertion order, as
/// JavaScript objects do, so traces serialize like the JS client's.
using json = nlohmann::ordered_json;

/// Where trace() was called. functionName is the bare function name (what
/// `__func__` gives), the closest match to hypertrace's `Class.method`
/// stripped of the class.
struct call_site {
  const char* function_name = "";
  const char* filename = "";
  unsigned line = 0;

#if defined(__GNUC__) || defined(__clang__)
  // GCC and Clang evaluate these builtins at the outermost call site when
  // they appear in default arguments: that is how they implement
  // std::source_location, and it works in C++17.
  static constexpr call_site current(const char* fn = __builtin_FUNCTION(),
                                     const char* file = __builtin_FILE(),
                                     unsigned line = __builtin_LINE()) noexcept {
    return {fn, file, line};
  }
#  define HT_CALLER_CAPTURED 1
#elif defined(__cpp_lib_source_location)
  // source_location::function_name() is the full signature on most
  // compilers; call_site keeps the bare name.
  static call_site current(
    std::source_location loc = std::source_location::current()) noexcept {
    return {bare_function_name(loc.function_name()), loc.file_name(),
            static_cast<unsigned>(loc.line())};
  }
#  define HT_CALLER_CAPTURED 1
#else
  // No way to see the caller from a default argument: use HT_TRACE.
  static constexpr call_site current() noexcept { return {}; }
#  define HT_CALLER_CAPTURED 0
#endif
  /// "void ns::Room::join(int)" -> "join" (storage is interned for life).
  static const char* bare_function_name(const char* signature);
};

/// A traced class: its name and the counter that numbers its objects from 1,
/// as hypertrace numbers objects per constructor. Lives for the process.
struct trace_class {
  std::string name;
  std::atomic<uint64_t> last_object_id{0};
};

/// The class registered for a C++ type (name: the unqualified demangled
/// type name, "ns::Room<int>" -> "Room<int>").
trace_class& trace_class_for(const std::type_info& type);
/// The class registered under an explicit name (one counter per name).
trace_class& trace_class_named(std::string_view name);

/// The traced object a tracer speaks for. Immutable once created and shared
/// by the tracer and the traces in flight.
struct trace_object {
  const trace_class* cls = nullptr;
  uint64_t id = 0;
  json props; // null when the tracer was created without props
};

class tracer;

struct tracer_options {
  json props = nullptr;           // hypertrace's {props}
  const tracer* parent = nullptr; // hypertrace's {parent}
};

/// What a trace function receives for one trace() call. The references live
/// for the duration of the call only; `caller_props` may be moved from.
struct trace_event {
  std::string_view id;                              // empty: no id (null)
  const std::shared_ptr<const trace_object>& object;
  const std::shared_ptr<const trace_object>& parent; // may be null
  call_site caller;
  json* caller_props;                               // null: none given
};

using trace_function = std::function<void(trace_event&)>;

namespace detail {
// 0 while tracing is off; otherwise the generation of the installed function.
extern std::atomic<uint64_t> trace_generation;
void dispatch(uint64_t generation, trace_event& ev) noexcept;
} // namespace detail

/// Installs `fn` as the global trace function (replacing any other) and
/// returns a token for clear_trace_function(token). Thread-safe, also
/// against concurrent trace() calls.
uint64_t set_trace_function(trace_function fn);
/// Removes the global trace function.
void clear_trace_function();
/// Removes the global trace function only if it is still the one installed
/// under `token` (so a client that stops does not remove someone else's).
void clear_trace_function(uint64_t token);
/// True while a trace function is installed.
inline bool tracing_enabled() noexcept {
  return detail::trace_generation.load(std::memory_order_acquire) != 0;
}
/// Exceptions thrown by trace functions (swallowed: trace() never throws).
uint64_t trace_function_errors() noexcept;

class tracer {
public:
  /// A disabled tracer: trace() does nothing.
  tracer() noexcept = default;

  bool enabled() const noexcept { return object_ != nullptr; }
  /// From 1 per class; 0 for a disabled tracer (hypertrace: null).
  uint64_t object_id() const noexcept { return object_ ? object_->id : 0; }
  /// Empty for a disabled tracer (hypertrace: null).
  std::string_view class_name() const noexcept {
    return object_ ? std::string_view{object_->cls->name} : std::string_view{};
  }
  /// Null for a disabled tracer or one created without props.
  const json& props() const noexcept;
  /// The parent's object, or null.
  const std::shared_ptr<const trace_object>& parent() const noexcept {
    return parent_;
  }
  const std::shared_ptr<const trace_object>& object() const noexcept {
    return object_;
  }

  /// hypertrace's setParent(); nullptr (or a disabled tracer) clears it. Like
  /// every non-const member, not to be called while another thread uses
  /// this same tracer.
  void set_parent(const tracer* parent) noexcept;

  /// True if trace() would reach a trace function now.
  bool active() const noexcept { return object_ && tracing_enabled(); }

  /// Records a trace. An empty id is hypertrace's null id. Never throws,
  /// never blocks; does nothing while tracing is off.
  void trace(std::string_view id = {},
             call_site caller = call_site::current()) const noexcept {
    if (!object_)
      return;
    if (auto gen = detail::trace_generation.load(std::memory_order_acquire))
      emit(gen, id, caller, nullptr);
  }
  void trace(std::string_view id, json props,
             call_site caller = call_site::current()) const noexcept {
    if (!object_)
      return;
    if (auto gen = detail::trace_generation.load(std::memory_order_acquire))
      emit(gen, id, caller, &props);
  }

  /// The forms HT_TRACE expands to (explicit call site).
  void trace_at(call_site caller, std::string_view id) const noexcept {
    trace(id, caller);
  }
  void trace_at(call_site caller, std::string_view id, json props) const noexcept {
    trace(id, std::move(props), caller);
  }

private:
  friend tracer make_tracer(trace_class& cls, tracer_options&& opts);
  void emit(uint64_t gen, std::string_view id, call_site caller,
            json* props) const noexcept;

  std::shared_ptr<const trace_object> object_;
  std::shared_ptr<const trace_object> parent_;
};

/// Creates an enabled tracer for an object of class `cls`, or the no-op
/// tracer while tracing is off (no id is used up then, as in hypertrace).
tracer make_tracer(trace_class& cls, tracer_options&& opts);

/// hypertrace's createTracer(this, {props, parent}); the class name is the
/// object's C++ type name without namespaces.
template <class T, class = std::enable_if_t<std::is_class_v<T>>>
tracer create_tracer(const T* /*object*/, tracer_options opts = {}) {
  if (!tracing_enabled())
    return tracer{};
  static trace_class& cls = trace_class_for(typeid(T));
  return make_tracer(cls, std::move(opts));
}

/// The same with an explicit class name.
inline tracer create_tracer(std::string_view class_name, tracer_options opts = {}) {
  if (!tracing_enabled())
    return tracer{};
  return make_tracer(trace_class_named(class_name), std::move(opts));
}

} // namespace ht

/// HT_TRACE(tracer, "id"[, props]): trace() with the caller taken from
/// __func__/__FILE__/__LINE__, and props not even built while tracing is off.
#define HT_TRACE(tr, ...)                                                     \
  do {                                                                        \
    if ((tr).active())                                                        \
      (tr).trace_at(::ht::call_site{__func__, __FILE__, __LINE__},            \
                    __VA_ARGS__);                                             \
  } while (0)
