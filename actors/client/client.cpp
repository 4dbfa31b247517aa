// The host-facing facade: builds the shared state, installs the trace
// function, and turns method calls into queue pushes and actor messages.
#include "actors/client/client.hpp"

#include <stdexcept>

#include <caf/all.hpp>
#include <sodium.h>

#include "actors/client/client_shared.hpp"

namespace ht {

namespace {

void wake(const caf::actor_addr& addr) {
  if (auto root = caf::actor_cast<client_actor>(addr))
    caf::anon_send(root, drain_atom::value);
}

std::unique_ptr<trace_record> props_record(json props) {
  auto r = std::make_unique<trace_record>();
  r->what = trace_record::kind::add_props;
  r->props = std::move(props);
  return r;
}

// A manual trace's object has a class of its own: host-given names are not
// interned into the process-wide class registry.
struct manual_object : trace_object {
  trace_class own_class;
};

} // namespace

client client::start(caf::actor_system& sys, client_options opts) {
  if (!opts.create_socket)
    throw std::invalid_argument("ht::client::start: create_socket is required");
  if (opts.buffer_bytes == 0)
    throw std::invalid_argument("ht::client::start: buffer_bytes must be > 0");
  size_t queue_bytes = opts.queue_bytes ? opts.queue_bytes : opts.buffer_bytes / 4;
  if (queue_bytes >= opts.buffer_bytes)
    throw std::invalid_argument(
      "ht::client::start: queue_bytes must be below buffer_bytes");
  auto sh = std::make_shared<client_shared>();
  sh->opts = std::move(opts);
  auto& o = sh->opts;
  sh->session_id = make_trace_session_id();
  sh->encoder = std::make_unique<trace_encoder>(sh->session_id);
  client_core_config cc;
  cc.buffer_bytes = o.buffer_bytes - queue_bytes;
  cc.backoff = o.backoff;
  cc.connect_timeout = o.connect_timeout;
  cc.handshake_timeout = o.handshake_timeout;
  cc.stop_timeout = o.stop_timeout;
  auto can_reconnect = o.can_reconnect;
  sh->core = std::make_unique<client_core>(
    cc, sh->session_id, [](uint32_t n) { return randombytes_uniform(n); },
    std::move(can_reconnect));
  auto intake = std::make_shared<client_intake>();
  intake->ignore_class_names = o.ignore_class_names;
  auto* in = intake.get();
  intake->ingress = std::make_unique<trace_ingress>(queue_bytes,
                                                    [in] { wake(in->root); });
  sh->intake = intake;
  sh->ingress = intake->ingress.get();
  client c;
  c.root_ = spawn_client_root(sys, sh);
  intake->root = c.root_.address(); // before the root's first message
  c.shared_ = sh;
  // As the JS client: the trace function first, then the initial props, so
  // nothing traced during start is lost.
  if (o.install_trace_function) {
    auto token = set_trace_function([intake](trace_event& ev) {
      auto& s = *intake;
      if (s.ingress->closed())
        return;
      if (s.ignored(ev.object->cls->name)
          || (ev.parent && s.ignored(ev.parent->cls->name)))
        return;
      auto r = std::make_unique<trace_record>();
      r->time = std::chrono::system_clock::now();
      r->id.assign(ev.id.data(), ev.id.size());
      r->object = ev.object;
      r->caller = ev.caller;
      if (ev.caller_props) {
        r->has_caller_props = true;
        r->props = std::move(*ev.caller_props);
      }
      s.ingress->push(std::move(r));
    });
    intake->trace_fn_token.store(token);
  }
  if (!o.initial_props.is_null())
    sh->ingress->push(props_record(o.initial_props));
  if (o.initial_props_async) {
    caf::actor_addr root = c.root_.address();
    auto done = [weak = std::weak_ptr<client_shared>(sh), root](json props) {
      if (auto s = weak.lock()) {
        s->ingress->push(props_record(std::move(props)));
        if (auto r = caf::actor_cast<client_actor>(root))
          caf::anon_send(r, ready_atom::value);
      }
    };
    try {
      o.initial_props_async(done);
    } catch (...) {
      // No props then; connect without waiting for the timeout.
      caf::anon_send(c.root_, ready_atom::value);
    }
    caf::delayed_anon_send(c.root_, o.initial_props_timeout, ready_atom::value);
  } else {
    caf::anon_send(c.root_, ready_atom::value);
  }
  return c;
}

client::client(client&&) noexcept = default;
client& client::operator=(client&& other) noexcept {
  if (this != &other) {
    stop();
    shared_ = std::move(other.shared_);
    root_ = std::move(other.root_);
  }
  return *this;
}

client::~client() {
  stop();
}

void client::add_props(json props) noexcept {
  if (!shared_)
    return;
  try {
    shared_->ingress->push(props_record(std::move(props)));
  } catch (...) {
  }
}

void client::add_trace(manual_trace t) noexcept {
  if (!shared_)
    return;
  try {
    auto& sh = *shared_;
    if (sh.intake->ignored(t.class_name)
        || (!t.parent_class_name.empty()
            && sh.intake->ignored(t.parent_class_name)))
      return;
    auto obj = std::make_shared<manual_object>();
    obj->own_class.name = std::move(t.class_name);
    obj->cls = &obj->own_class;
    obj->id = t.object_id;
    obj->props = std::move(t.object_props);
    auto r = std::make_unique<trace_record>();
    r->time = std::chrono::system_clock::now();
    r->id = std::move(t.id);
    // The object is the record's own (a tracer's is shared with it).
    r->charge = sizeof(manual_object) + approx_string_heap_bytes(obj->own_class.name)
                + approx_heap_bytes(obj->props);
    r->object = std::move(obj);
    r->caller_filename = std::move(t.filename);
    r->caller_function = std::move(t.function_name);
    if (t.caller_props) {
      r->has_caller_props = true;
      r->props = std::move(*t.caller_props);
    }
    sh.ingress->push(std::move(r));
  } catch (...) {
    // Out of memory: the trace is lost, the host goes on.
  }
}

void client::stop() noexcept {
  if (!shared_)
    return;
  clear_trace_function(shared_->intake->trace_fn_token.load());
  caf::anon_send(root_, stop_atom::value);
}

bool client::is_running() const noexcept {
  return shared_ && shared_->connected.load(std::memory_order_acquire);
}

std::optional<client_event> client::last_connection_error() const {
  if (!shared_)
    return std::nullopt;
  std::lock_guard<std::mutex> guard{shared_->mtx};
  return shared_->last_error;
}

client_stats client::stats() const {
  if (!shared_)
    return {};
  std::lock_guard<std::mutex> guard{shared_->mtx};
  auto s = shared_->stats;
  s.dropped_queue = shared_->ingress->dropped();
  return s;
}

const std::string& client::session_id() const noexcept {
  static const std::string none;
  return shared_ ? shared_->session_id : none;
}

} // namespace ht
