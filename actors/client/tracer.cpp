// The global trace function and the class registry behind the tracer API.
//
// The trace function is read on every trace() of every host thread and
// replaced rarely (client start/stop). Readers must not lock or bump a
// shared reference count, so each thread caches a shared_ptr to the
// installed function together with its generation: the hot path is one
// acquire load of the global generation and a compare with the cached one;
// only a thread that sees a new generation takes the mutex to refresh its
// copy. A function replaced or cleared stays alive while a thread still
// runs it (its cached shared_ptr), so set/clear never race with a call.
#include "actors/client/tracer.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <typeindex>

namespace ht {

namespace detail {
std::atomic<uint64_t> trace_generation{0};
} // namespace detail

namespace {

std::mutex fn_mutex;
std::shared_ptr<const trace_function> installed_fn; // guarded by fn_mutex
uint64_t installed_generation = 0;                  // guarded by fn_mutex
uint64_t last_generation = 0;                       // guarded by fn_mutex
std::atomic<uint64_t> fn_errors{0};

struct cached_function {
  uint64_t generation = 0;
  std::shared_ptr<const trace_function> fn;
};
thread_local cached_function thread_fn;

// Class names and function names live for the process: traces in flight
// point at them without owning them.
std::mutex class_mutex;
std::map<std::type_index, trace_class*>& classes_by_type() {
  static auto* m = new std::map<std::type_index, trace_class*>;
  return *m;
}
std::map<std::string, trace_class*, std::less<>>& classes_by_name() {
  static auto* m = new std::map<std::string, trace_class*, std::less<>>;
  return *m;
}

// "ns::Outer<a::B>::Room<int>" -> "Room<int>": the last component outside
// template brackets, as a JS constructor.name has no namespace.
std::string unqualified(const std::string& name) {
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '<' || c == '(')
      ++depth;
    else if ((c == '>' || c == ')') && depth > 0)
      --depth;
    else if (depth == 0 && c == ':' && i + 1 < name.size() && name[i + 1] == ':')
      start = i + 2;
  }
  return name.substr(start);
}

} // namespace

uint64_t set_trace_function(trace_function fn) {
  auto p = fn ? std::make_shared<const trace_function>(std::move(fn)) : nullptr;
  std::lock_guard<std::mutex> guard{fn_mutex};
  installed_fn = std::move(p);
  installed_generation = installed_fn ? ++last_generation : 0;
  detail::trace_generation.store(installed_generation, std::memory_order_release);
  return installed_generation;
}

void clear_trace_function() {
  std::shared_ptr<const trace_function> old;
  std::lock_guard<std::mutex> guard{fn_mutex};
  old = std::move(installed_fn);
  installed_generation = 0;
  detail::trace_generation.store(0, std::memory_order_release);
}

void clear_trace_function(uint64_t token) {
  std::lock_guard<std::mutex> guard{fn_mutex};
  if (token == 0 || token != installed_generation)
    return;
  installed_fn.reset();
  installed_generation = 0;
  detail::trace_generation.store(0, std::memory_order_release);
}

uint64_t trace_function_errors() noexcept {
  return fn_errors.load(std::memory_order_relaxed);
}

void detail::dispatch(uint64_t generation, trace_event& ev) noexcept {
  try {
    auto& cache = thread_fn;
    if (cache.generation != generation) {
      std::lock_guard<std::mutex> guard{fn_mutex};
      cache.fn = installed_fn;
      cache.generation = installed_generation;
    }
    if (cache.fn)
      (*cache.fn)(ev);
  } catch (...) {
    fn_errors.fetch_add(1, std::memory_order_relaxed);
  }
}

const json& tracer::props() const noexcept {
  static const json null_json;
  return object_ ? object_->props : null_json;
}

void tracer::set_parent(const tracer* parent) noexcept {
  if (parent && parent->object_)
    parent_ = parent->object_;
  else
    parent_.reset();
}

void tracer::emit(uint64_t gen, std::string_view id, call_site caller,
                  json* props) const noexcept {
  trace_event ev{id, object_, parent_, caller, props};
  detail::dispatch(gen, ev);
}

tracer make_tracer(trace_class& cls, tracer_options&& opts) {
  tracer t;
  try {
    auto obj = std::make_shared<trace_object>();
    obj->cls = &cls;
    obj->id = cls.last_object_id.fetch_add(1, std::memory_order_relaxed) + 1;
    obj->props = std::move(opts.props);
    t.object_ = std::move(obj);
    t.set_parent(opts.parent);
  } catch (...) {
    // Out of memory: the object goes untraced rather than failing the host.
    t.object_.reset();
  }
  return t;
}

trace_class& trace_class_for(const std::type_info& type) {
  std::lock_guard<std::mutex> guard{class_mutex};
  auto& m = classes_by_type();
  auto i = m.find(type);
  if (i != m.end())
    return *i->second;
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string full = status == 0 && demangled ? demangled : type.name();
  std::free(demangled);
  auto* cls = new trace_class;
  cls->name = unqualified(full);
  m.emplace(type, cls);
  return *cls;
}

trace_class& trace_class_named(std::string_view name) {
  std::lock_guard<std::mutex> guard{class_mutex};
  auto& m = classes_by_name();
  auto i = m.find(name);
  if (i != m.end())
    return *i->second;
  auto* cls = new trace_class;
  cls->name = std::string{name};
  m.emplace(cls->name, cls);
  return *cls;
}

const char* call_site::bare_function_name(const char* signature) {
  // Interned so the returned pointer lives as long as a literal would.
  static std::mutex m;
  static auto* names = new std::set<std::string>;
  std::string s = signature ? signature : "";
  // Cut the parameter list: the first '(' outside template brackets that is
  // not part of "operator()".
  int depth = 0;
  size_t end = s.size();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<')
      ++depth;
    else if (s[i] == '>' && depth > 0)
      --depth;
    else if (s[i] == '(' && depth == 0) {
      if (i >= 8 && s.compare(i - 8, 8, "operator") == 0)
        continue;
      end = i;
      break;
    }
  }
  s.resize(end);
  // Drop the return type (text up to the last space outside brackets) and
  // the qualification.
  depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<')
      ++depth;
    else if (s[i] == '>' && depth > 0)
      --depth;
    else if (depth == 0 && s[i] == ' ')
      start = i + 1;
  }
  s = unqualified(s.substr(start));
  std::lock_guard<std::mutex> guard{m};
  return names->insert(std::move(s)).first->c_str();
}

} // namespace ht
