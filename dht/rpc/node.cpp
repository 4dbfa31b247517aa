// The dht-rpc node (node.hpp): ties the routing table, our requests, the
// queries, tokens and the NAT sampler together and answers the internal
// commands as dht-rpc 6.27.0 index.js does. References are to the pinned
// JS (tests/interop/node_modules/dht-rpc) and are listed in docs/dht.md.
#include "dht/rpc/node.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "dht/encoding/error.hpp"
#include "dht/rpc/nat_sampler.hpp"
#include "dht/rpc/query.hpp"
#include "dht/rpc/requests.hpp"
#include "dht/rpc/routing_table.hpp"
#include "dht/rpc/token.hpp"

namespace ht::rpc {

const char* to_string(request_error e) {
  switch (e) {
    case request_error::timeout: return "Request timed out";
    case request_error::closing: return "Node closing";
    case request_error::too_many: return "Too many pending requests";
    case request_error::cancelled: return "Request cancelled";
  }
  return "unknown";
}

namespace {

using namespace std::chrono_literals;

constexpr duration drain_interval = 750ms;   // io.js:286
constexpr unsigned drains_per_rotation = 10;  // io.js:298: secrets rotate every 7.5 s
constexpr uint64_t refresh_ticks = 60;        // index.js:22
constexpr uint64_t recent_node = 12;          // index.js:23
constexpr uint64_t old_node = 360;            // index.js:24
constexpr uint64_t more_stable_ticks = 3 * 240; // index.js:20-21
constexpr uint64_t sleeping_ticks = 3;         // index.js:19: SLEEPING_INTERVAL = 3 ticks
constexpr size_t max_checks = 10;             // index.js:666 (DOWN_HINT checks at once)
constexpr int max_repinging = 3;              // index.js:576
constexpr unsigned down_hints_per_tick = 50;  // index.js:86-88
constexpr uint32_t max_ping_delay_ms = 10000; // index.js:29
constexpr size_t max_delayed_pings = 256;     // ours: the only per-request state we keep

// Who is waiting for one of our requests.
enum class purpose_kind { user, visit, down_hint, commit, check, reping, nat_check };
struct purpose {
  purpose_kind kind = purpose_kind::user;
  ipv4_address to;               // where the request went
  uint64_t query = 0;            // visit, down_hint, commit
  key32 node{};                  // check, reping: the node pinged
  uint64_t last_seen = 0;        // check, reping: its seen_seq when pinged
  table_node candidate;          // reping: who gets the slot if it does not answer
};

enum class query_role { user, bootstrap, bootstrap_again, refresh };

struct query_entry {
  query_machine m;
  query_role role = query_role::user;
  bool background = false;
  std::unordered_set<uint64_t> requests;  // ours still pending for it
};

struct delayed_ping {
  uint8_t socket;
  ipv4_address to;
  uint16_t tid;
};

bytes encode_address(const ipv4_address& a) {
  enc::writer w(6);
  a.encode(w);
  return w.take();
}

uint64_t seed_or_random(uint64_t seed) {
  if (seed != 0) return seed;
  std::random_device rd;
  return (uint64_t(rd()) << 32) ^ rd();
}

} // namespace

struct node::impl {
  node_config cfg;
  std::mt19937_64 rng;
  std::unique_ptr<routing_table> table;
  token_store tokens;
  nat_sampler nat;
  request_table reqs;

  bool ephemeral = true;
  bool closed = false;
  bool bootstrap_started = false;
  bool bootstrapped = false;

  std::deque<transmit> tx;
  std::deque<event> events;
  // Hot-path scratch, reused so that answering allocates nothing once warm:
  // datagram buffers handed back through poll_transmit(transmit&), the
  // response being encoded and the closest-nodes list.
  static constexpr size_t max_spare_buffers = 256;
  std::vector<bytes> spare;
  response out_response;
  std::vector<const table_node*> out_closest;
  node_stats st;
  uint64_t next_handle = 1;

  time_point next_tick, next_drain;
  unsigned drains_left = drains_per_rotation;
  uint64_t tick = 0;
  uint64_t refresh_left = 0;
  time_point last_tick;             // when on_tick last ran (sleep detection)
  // After a wake-up, an adaptive node checks its NAT again once this many
  // ticks have passed (dht-rpc's _stableTicks); 0: no check pending.
  uint64_t stable_left = 0;
  uint64_t seen_seq = 0;
  size_t checks = 0;
  int repinging = 0;
  unsigned down_hints_sent = 0;
  std::vector<uint64_t> id_less_samples;  // index.js _nonePersistentSamples

  std::unordered_map<uint64_t, purpose> purposes;
  std::map<uint64_t, query_entry> queries;
  std::multimap<time_point, delayed_ping> delayed;

  // The PING_NAT check of an adaptive node (index.js:916-963).
  struct {
    bool active = false;
    size_t asked = 0, missing = 0, answers = 0;
    nat_sampler samples;
  } nat_check;

  std::optional<ipv4_address> last_nat_address;
  firewall_class last_firewall = firewall_class::unknown;

  impl(node_config c, time_point now)
    : cfg(std::move(c)),
      rng(seed_or_random(cfg.seed)),
      tokens(rng()),
      reqs(request_table::config{cfg.request_timeout, cfg.max_pending_requests, 80},
           uint16_t(rng())) {
    key32 id;
    for (auto& b : id) b = uint8_t(rng());
    // index.js:74-75: ticks start at a random offset so nodes do not tick in step.
    tick = 100 - rng() % 50;
    refresh_left = refresh_ticks - rng() % (refresh_ticks / 2);
    next_tick = now + cfg.tick_interval;
    last_tick = now;
    next_drain = now + drain_interval;
    if (cfg.mode == node_mode::persistent && !cfg.public_address)
      throw std::invalid_argument("dht-rpc node: persistent mode needs a public address");
    if (cfg.mode == node_mode::persistent) {
      // DHT.bootstrapper (index.js:104-120): our address is given, so is our id.
      id = node_id(*cfg.public_address);
      nat.add(*cfg.public_address);
      ephemeral = false;
    }
    table = std::make_unique<routing_table>(id, cfg.k);
    if (!ephemeral) events.emplace_back(persistent_event{});
    update_nat_state();
  }

  // --- output -------------------------------------------------------------
  void send_request(const request_send& s) {
    rpc::request r;
    r.tid = s.tid;
    r.to = s.spec.to;
    if (!ephemeral) r.id = table->id();  // io.js:521: only non-ephemeral nodes send it
    r.token = s.spec.token;
    r.internal = s.spec.internal;
    r.command = s.spec.command;
    r.target = s.spec.target;
    r.value = s.spec.value;
    tx.push_back(transmit{s.spec.socket, s.spec.to, encode(r)});
    st.datagrams_out++;
    st.requests_out++;
  }

  void flush_sends() {
    for (const auto& s : reqs.take_sends()) send_request(s);
  }

  bytes take_buffer() {
    if (spare.empty()) return {};
    bytes b = std::move(spare.back());
    spare.pop_back();
    return b;
  }

  void send_response(uint8_t socket, const ipv4_address& dest, uint16_t tid, uint64_t error,
                     std::optional<bytes> value, bool token,
                     const std::optional<key32>& closer_target) {
    if (closed) return;
    response& r = out_response;  // reused: closer_nodes keeps its storage
    r.tid = tid;
    r.to = dest;
    r.id.reset();
    if (!ephemeral) r.id = table->id();
    r.token.reset();
    if (token) r.token = tokens.create(dest);
    r.closer_nodes.clear();
    if (closer_target) {
      table->closest(*closer_target, cfg.k, out_closest);
      for (const table_node* n : out_closest) r.closer_nodes.push_back(n->addr);
    }
    r.error = error;
    r.value = std::move(value);
    transmit t{socket, dest, take_buffer()};
    encode(r, t.data);
    r.value.reset();
    tx.push_back(std::move(t));
    st.datagrams_out++;
  }

  uint64_t submit(purpose p, request_spec spec, unsigned retries, time_point now) {
    const uint64_t id = next_handle++;
    p.to = spec.to;
    if (!reqs.submit(id, std::move(spec), retries, now)) return 0;
    purposes.emplace(id, std::move(p));
    flush_sends();
    return id;
  }

  // --- NAT ----------------------------------------------------------------
  firewall_class firewall() const {
    if (!ephemeral) return firewall_class::open;
    if (!nat.host()) return firewall_class::unknown;
    return nat.port() == 0 ? firewall_class::random : firewall_class::consistent;
  }

  std::optional<ipv4_address> public_address() const {
    if (cfg.mode == node_mode::persistent && cfg.public_address) return cfg.public_address;
    auto h = nat.host();
    if (!h) return std::nullopt;
    return ipv4_address{*h, nat.port()};
  }

  void update_nat_state() {
    auto addr = public_address();
    auto fw = firewall();
    if (addr == last_nat_address && fw == last_firewall) return;
    last_nat_address = addr;
    last_firewall = fw;
    events.emplace_back(nat_event{addr, fw});
  }

  void nat_add(const ipv4_address& to) {
    nat.add(to);
    update_nat_state();
  }

  // index.js:475-481: responders without an id (bootstrap nodes, ephemeral
  // nodes) give at most max(1, #bootstrap) samples, one per responder.
  void sample_id_less(const ipv4_address& from, const ipv4_address& to) {
    if (id_less_samples.size() >= std::max<size_t>(1, cfg.bootstrap.size())) return;
    const uint64_t key = address_key(from);
    if (std::find(id_less_samples.begin(), id_less_samples.end(), key) != id_less_samples.end()) return;
    id_less_samples.push_back(key);
    nat_add(to);
  }

  // --- the table ------------------------------------------------------------
  // index.js:483-537.
  void add_from_network(bool sample, const ipv4_address& from, const std::optional<key32>& from_id,
                        const ipv4_address& to, time_point now) {
    if (!from_id) {
      if (sample) sample_id_less(from, to);
      return;
    }
    if (table_node* old = table->get(*from_id)) {
      if (sample && (old->sampled == 0 || tick - old->sampled >= old_node)) {
        old->to = to;
        old->sampled = tick;
        nat_add(to);
      }
      old->pinged = old->seen = tick;
      old->seen_seq = ++seen_seq;
      table->touch(*from_id);
      return;
    }
    table_node n;
    n.id = *from_id;
    n.addr = from;
    if (sample) n.to = to;
    add_node(n, now);
  }

  void add_node(table_node n, time_point now) {
    if (n.id == table->id() || table->get(n.id)) return;
    n.added = n.pinged = n.seen = tick;
    n.seen_seq = ++seen_seq;
    n.sampled = 0;
    switch (table->add(n)) {
      case routing_table::add_result::full: on_full_row(n, now); return;
      case routing_table::add_result::added: break;
      default: return;
    }
    if (n.to) {
      table->get(n.id)->sampled = tick;
      nat_add(*n.to);
    }
  }

  void remove_node(const key32& id) { table->remove(id); }

  // index.js:575-594, 601-630: a full row pings its oldest node; the newcomer
  // gets the slot only if that node does not answer.
  void on_full_row(const table_node& newcomer, time_point now) {
    if (!bootstrapped || repinging >= max_repinging) return;
    const table_node* oldest = table->eviction_candidate(newcomer.id, tick);
    if (!oldest) return;
    if (tick - oldest->pinged < recent_node && tick - oldest->added > old_node) return;
    table_node* old = table->get(oldest->id);
    old->pinged = tick;
    purpose p;
    p.kind = purpose_kind::reping;
    p.node = old->id;
    p.last_seen = old->seen_seq;
    p.candidate = newcomer;
    request_spec spec;
    spec.to = old->addr;
    spec.internal = true;
    spec.command = uint64_t(internal_command::ping);
    if (submit(std::move(p), std::move(spec), cfg.retries, now)) repinging++;
  }

  void swap_in(const key32& old, table_node candidate, time_point now) {
    remove_node(old);
    add_node(candidate, now);  // its `to` is sampled now (index.js:531-534)
  }

  // index.js:737-762: ping a node; drop it unless it answers with its id.
  void check(table_node& n, time_point now) {
    n.pinged = tick;
    purpose p;
    p.kind = purpose_kind::check;
    p.node = n.id;
    p.last_seen = n.seen_seq;
    request_spec spec;
    spec.to = n.addr;
    spec.internal = true;
    spec.command = uint64_t(internal_command::ping);
    if (submit(std::move(p), std::move(spec), cfg.retries, now)) checks++;
  }

  void rebuild_table(const key32& id) {
    if (id == table->id()) return;
    auto nodes = table->snapshot();
    table = std::make_unique<routing_table>(id, cfg.k);
    for (const auto& n : nodes)
      if (n.id != id) table->add(n);  // nodes that no longer fit are dropped
  }

  // --- queries --------------------------------------------------------------
  size_t background_concurrency() const {
    return std::min(cfg.concurrency, std::max<size_t>(2, cfg.concurrency / 8));
  }

  uint64_t start_query(query_params p, const std::vector<ipv4_address>& seeds, query_role role,
                       time_point now) {
    const uint64_t h = next_handle++;
    refresh_left = refresh_ticks;
    const bool background = role != query_role::user;
    if (background) p.concurrency = background_concurrency();
    p.self_id = table->id();
    const key32 target = p.target;
    auto source = [this, target](size_t n) {
      std::vector<ipv4_address> out;
      for (const table_node* t : table->closest(target, n)) out.push_back(t->addr);
      return out;
    };
    auto [it, ok] = queries.emplace(h, query_entry{query_machine(std::move(p), source, cfg.bootstrap),
                                                   role, background, {}});
    (void)ok;
    it->second.m.seed(seeds);
    it->second.m.start();
    pump(h, now);
    return h;
  }

  void background_query(const key32& target, query_role role, time_point now) {
    query_params p;
    p.target = target;
    p.internal = true;
    p.command = uint64_t(internal_command::find_node);
    p.k = cfg.k;
    start_query(std::move(p), {}, role, now);
  }

  void refresh(time_point now) {
    const table_node* n = table->random_node(rng);
    background_query(n ? n->id : table->id(), query_role::refresh, now);
  }

  // Carries out what a query asked for until it asks for nothing more.
  void pump(uint64_t h, time_point now) {
    for (;;) {
      auto it = queries.find(h);
      if (it == queries.end()) return;
      query_entry& q = it->second;
      auto actions = q.m.take_actions();
      std::vector<ipv4_address> failed_visits;
      size_t failed_commits = 0;
      for (const auto& a : actions) {
        const auto& qp = q.m.params();
        request_spec spec;
        spec.to = a.to;
        purpose p;
        p.query = h;
        unsigned retries = cfg.retries;
        switch (a.kind) {
          case query_machine::action::visit:
            p.kind = purpose_kind::visit;
            spec.internal = qp.internal;
            spec.command = qp.command;
            spec.target = qp.target;
            spec.value = qp.value;
            // query.js:28-29: visits are sent up to 6 times (4 for DOWN_HINT queries).
            retries = qp.internal && qp.command == uint64_t(internal_command::down_hint) ? 3 : 5;
            break;
          case query_machine::action::down_hint:
            if (down_hints_sent >= down_hints_per_tick) continue;
            down_hints_sent++;
            p.kind = purpose_kind::down_hint;
            spec.internal = true;
            spec.command = uint64_t(internal_command::down_hint);
            spec.value = encode_address(a.down);
            break;
          case query_machine::action::commit:
            // query.js autoCommit: dht.request(), i.e. a user command.
            p.kind = purpose_kind::commit;
            spec.internal = false;
            spec.command = qp.command;
            spec.target = qp.target;
            spec.value = qp.value;
            spec.token = a.token;
            break;
        }
        const auto kind = a.kind;
        const uint64_t id = submit(std::move(p), std::move(spec), retries, now);
        if (id) q.requests.insert(id);
        else if (kind == query_machine::action::visit) failed_visits.push_back(a.to);
        else if (kind == query_machine::action::commit) failed_commits++;
      }
      for (auto& r : q.m.take_replies()) {
        if (q.background) {
          // index.js:973-976: yield to other traffic.
          q.m.set_concurrency(reqs.pending() < 3 ? cfg.concurrency : background_concurrency());
        } else {
          events.emplace_back(query_reply_event{h, std::move(r)});
        }
      }
      for (const auto& to : failed_visits) q.m.on_error(to, false);
      for (size_t i = 0; i < failed_commits; i++)
        q.m.on_commit_done(false, to_string(request_error::too_many));
      if (q.m.finished()) {
        finalize(h, now);
        return;
      }
      if (actions.empty() && failed_visits.empty() && failed_commits == 0) return;
    }
  }

  void finalize(uint64_t h, time_point now) {
    auto it = queries.find(h);
    if (it == queries.end()) return;
    query_entry q = std::move(it->second);
    queries.erase(it);
    // Like the query's session in JS: whatever it still has in flight goes.
    for (uint64_t id : q.requests) {
      reqs.cancel(id);
      purposes.erase(id);
    }
    switch (q.role) {
      case query_role::user:
        events.emplace_back(query_done_event{h, q.m.closest(), q.m.error()});
        break;
      case query_role::bootstrap:
        after_bootstrap_query(now);
        break;
      case query_role::bootstrap_again:
        set_bootstrapped();
        break;
      case query_role::refresh:
        break;
    }
  }

  // --- bootstrap (index.js:379-433, 801-875, 916-963) ----------------------
  void after_bootstrap_query(time_point now) {
    if (cfg.mode != node_mode::adaptive || !ephemeral || !nat.host() || nat.port() == 0) {
      set_bootstrapped();
      return;
    }
    start_nat_check(now);
  }

  void set_bootstrapped() {
    if (bootstrapped) return;
    bootstrapped = true;
    events.emplace_back(bootstrapped_event{});
  }

  // One socket: we ask up to 5 nodes to PING_NAT us at our sampled public
  // port. Their replies travel the path our request opened, so this checks
  // that our mapping is consistent (same host:port for every responder), not
  // that unsolicited datagrams reach us; see docs/dht.md.
  void start_nat_check(time_point now) {
    std::vector<ipv4_address> nodes;
    for (const table_node* n : table->latest(5)) nodes.push_back(n->addr);
    if (nodes.size() < 5)
      for (const auto& b : cfg.bootstrap) nodes.push_back(b);
    if (nodes.empty()) {
      set_bootstrapped();
      return;
    }
    nat_check.active = true;
    nat_check.asked = nodes.size();
    nat_check.missing = nodes.size();
    nat_check.answers = 0;
    nat_check.samples = nat_sampler();
    enc::writer w(2);
    w.uint16(nat.port());
    const bytes value = w.take();
    for (const auto& to : nodes) {
      purpose p;
      p.kind = purpose_kind::nat_check;
      request_spec spec;
      spec.to = to;
      spec.internal = true;
      spec.command = uint64_t(internal_command::ping_nat);
      spec.value = value;
      if (!submit(std::move(p), std::move(spec), cfg.retries, now)) nat_check.missing--;
    }
    if (nat_check.missing == 0) end_nat_check(now);
  }

  void nat_check_answer(const std::optional<rpc::reply>& r, time_point now) {
    if (!nat_check.active) return;
    if (r) {
      nat_check.answers++;
      nat_check.samples.add(r->to);
    }
    if (--nat_check.missing == 0) end_nat_check(now);
  }

  void end_nat_check(time_point now) {
    nat_check.active = false;
    const auto& s = nat_check.samples;
    const size_t needed = nat_check.asked >= 5 ? 3 : 1;
    const bool passed = nat_check.answers >= needed && s.host() && s.host() == nat.host() &&
                        s.port() != 0 && s.port() == nat.port();
    if (!passed || !ephemeral) {
      set_bootstrapped();
      return;
    }
    const ipv4_address addr{*s.host(), s.port()};
    ephemeral = false;
    // index.js:837-847: the check's samples become our sampler (moved: the
    // sampler's tallies are shared between copies).
    nat = std::move(nat_check.samples);
    nat_check.samples = nat_sampler();
    id_less_samples.clear();
    rebuild_table(node_id(addr));
    events.emplace_back(persistent_event{});
    update_nat_state();
    // index.js:394-399: one more query, toward our new id.
    background_query(table->id(), query_role::bootstrap_again, now);
  }

  // --- incoming -------------------------------------------------------------
  void on_request(uint8_t socket, const ipv4_address& from, rpc::request& req, time_point now) {
    st.requests_in++;
    std::optional<key32> from_id;
    if (req.id && *req.id == node_id(from)) from_id = req.id;
    const bool token_valid = req.token && tokens.validate(from, *req.token);
    if (req.token && !token_valid) {
      st.invalid_tokens++;
      // io.js:94-101 answers INVALID_TOKEN itself; for user commands the
      // layer above decides (node.hpp), for internal ones we do as JS does.
      if (req.internal) {
        send_response(socket, from, req.tid, error_code::invalid_token, std::nullopt, true,
                      req.target);
        return;
      }
    } else if (from_id) {
      add_from_network(true, from, from_id, req.to, now);
    }

    if (!req.internal) {
      incoming_request in;
      in.socket = socket;
      in.from = from;
      in.from_id = from_id;
      in.to = req.to;
      in.tid = req.tid;
      in.internal = false;
      in.command = req.command;
      in.target = req.target;
      in.value = std::move(req.value);
      in.token = req.token;
      in.token_valid = token_valid;
      events.emplace_back(request_event{std::move(in)});
      return;
    }

    // index.js:637-681.
    switch (req.command) {
      case uint64_t(internal_command::ping):
        send_response(socket, from, req.tid, 0, std::nullopt, false, std::nullopt);
        return;
      case uint64_t(internal_command::ping_nat): {
        if (!req.value || req.value->size() < 2) return;
        const uint16_t port = uint16_t((*req.value)[0] | ((*req.value)[1] << 8));
        if (port == 0) return;
        send_response(socket, ipv4_address{from.host, port}, req.tid, 0, std::nullopt, false,
                      std::nullopt);
        return;
      }
      case uint64_t(internal_command::find_node):
        if (!req.target) return;
        send_response(socket, from, req.tid, 0, std::nullopt, false, req.target);
        return;
      case uint64_t(internal_command::down_hint): {
        if (!req.value || req.value->size() < 6) return;
        if (checks < max_checks) {
          enc::reader r(req.value->data(), 6);
          const ipv4_address down = ipv4_address::decode(r);
          table_node* n = table->get(node_id(down));
          if (n && (n->pinged < tick || n->down_hints == 0)) {
            n->down_hints++;
            check(*n, now);
          }
        }
        send_response(socket, from, req.tid, 0, std::nullopt, false, std::nullopt);
        return;
      }
      case uint64_t(internal_command::delayed_ping): {
        if (!req.value || req.value->size() < 4) return;
        const auto& v = *req.value;
        const uint32_t ms = uint32_t(v[0]) | (uint32_t(v[1]) << 8) | (uint32_t(v[2]) << 16) |
                            (uint32_t(v[3]) << 24);
        if (ms > max_ping_delay_ms) return;
        // Ours: a bounded number of these wait at once; more are dropped
        // (the sender sees a timeout, as for a lost datagram).
        if (delayed.size() >= max_delayed_pings) return;
        delayed.emplace(now + std::chrono::milliseconds(ms), delayed_ping{socket, from, req.tid});
        return;
      }
      default:
        send_response(socket, from, req.tid, error_code::unknown_command, std::nullopt, false,
                      req.target);
        return;
    }
  }

  void on_response(const ipv4_address& from, response& res, time_point now) {
    st.responses_in++;
    auto m = reqs.match(res.tid, from, now);
    if (!m) return;
    std::optional<key32> from_id;
    if (res.id && *res.id == node_id(from)) from_id = res.id;
    // A PING_NAT reply's `to` carries the port we asked for, not an
    // observation (JS receives it on its other socket and does not sample it).
    const bool sample = !(m->spec.internal && m->spec.command == uint64_t(internal_command::ping_nat));
    add_from_network(sample, from, from_id, res.to, now);

    rpc::reply r;
    r.from = from;
    r.from_id = from_id;
    r.to = res.to;
    r.token = res.token;
    r.closer_nodes = std::move(res.closer_nodes);
    r.error = res.error;
    r.value = std::move(res.value);
    r.rtt = m->rtt;
    on_outcome(m->id, std::move(r), std::nullopt, now);
  }

  // One of our requests ended, with a reply or an error.
  void on_outcome(uint64_t id, std::optional<rpc::reply> r, std::optional<request_error> err,
                  time_point now) {
    auto pit = purposes.find(id);
    if (pit == purposes.end()) return;
    purpose p = std::move(pit->second);
    purposes.erase(pit);
    switch (p.kind) {
      case purpose_kind::user:
        events.emplace_back(response_event{id, std::move(r), err});
        return;
      case purpose_kind::visit:
      case purpose_kind::down_hint:
      case purpose_kind::commit: {
        auto q = queries.find(p.query);
        if (q == queries.end()) return;
        q->second.requests.erase(id);
        if (p.kind == purpose_kind::visit) {
          if (r) {
            q->second.m.on_reply(r->from, *r);
          } else {
            // index.js:709-713: a node that timed out leaves the table.
            const ipv4_address to = p.to;
            if (err == request_error::timeout) remove_node(node_id(to));
            q->second.m.on_error(to, err == request_error::timeout);
          }
        } else if (p.kind == purpose_kind::commit) {
          q->second.m.on_commit_done(r.has_value(), r ? std::string() : to_string(*err));
        }
        pump(p.query, now);
        return;
      }
      case purpose_kind::check: {
        checks--;
        table_node* n = table->get(p.node);
        if (n && (!r || n->seen_seq <= p.last_seen)) remove_node(p.node);
        return;
      }
      case purpose_kind::reping: {
        repinging--;
        table_node* n = table->get(p.node);
        if (!r || !n || n->seen_seq <= p.last_seen) swap_in(p.node, p.candidate, now);
        return;
      }
      case purpose_kind::nat_check:
        nat_check_answer(r, now);
        return;
    }
  }

  void process_outcomes(time_point now) {
    for (;;) {
      auto outs = reqs.take_outcomes();
      if (outs.empty()) return;
      for (const auto& o : outs) {
        auto pit = purposes.find(o.id);
        if (pit == purposes.end()) continue;
        if (o.kind == request_outcome::cycle) {
          if (pit->second.kind == purpose_kind::visit) {
            auto q = queries.find(pit->second.query);
            if (q != queries.end()) {
              q->second.m.on_cycle(pit->second.to);
              pump(pit->second.query, now);
            }
          }
          continue;
        }
        on_outcome(o.id, std::nullopt,
                   o.kind == request_outcome::timeout ? request_error::timeout : request_error::closing,
                   now);
      }
      flush_sends();
    }
  }

  // --- time -----------------------------------------------------------------
  void on_tick(time_point now) {
    tick++;
    if (!bootstrapped) return;
    // The re-check after a wake-up (index.js:777-784, _updateNetworkState).
    if (cfg.mode == node_mode::adaptive && ephemeral && stable_left > 0 && --stable_left == 0
        && !nat_check.active)
      start_nat_check(now);
    if ((tick & 7) == 0) ping_some(now);
    if (((tick & 63) == 0 && table->size() < cfg.k) || --refresh_left == 0) refresh(now);
    down_hints_sent = 0;
  }

  // index.js:552-573 (_onwakeup): every node looks old, so the next ticks
  // ping the table through and refresh it; an adaptive node that was
  // persistent is ephemeral again until a NAT check passes anew (after
  // MORE_STABLE_TICKS). A configured persistent node (bootstrapper, not
  // adaptive in dht-rpc) stays what it is.
  void on_wakeup() {
    tick += 2 * old_node;
    tick += 8 - (tick & 7) - 2;  // a round of pings in two ticks
    refresh_left = 1;
    if (cfg.mode != node_mode::adaptive) return;
    stable_left = more_stable_ticks;
    if (!ephemeral) {
      ephemeral = true;
      events.emplace_back(ephemeral_event{});
      update_nat_state();
    }
  }

  // index.js:715-735.
  void ping_some(time_point now) {
    auto oldest = table->oldest(5);
    if (oldest.empty()) {
      refresh(now);
      return;
    }
    size_t count = reqs.pending() > 2 ? 3 : 5;
    if (tick - oldest.front()->pinged < recent_node) count = 2;
    std::vector<key32> ids;
    for (size_t i = 0; i < count && i < oldest.size(); i++) {
      if (oldest[i]->pinged == tick) break;
      ids.push_back(oldest[i]->id);
    }
    for (const auto& id : ids)
      if (table_node* n = table->get(id)) check(*n, now);
  }
  // Timers that are due, in order: requests, delayed pings, drains, ticks.
  void handle_timeout(time_point now) {
    reqs.handle_timeout(now);
    process_outcomes(now);
    while (!delayed.empty() && delayed.begin()->first <= now) {
      const delayed_ping d = delayed.begin()->second;
      delayed.erase(delayed.begin());
      send_response(d.socket, d.to, d.tid, 0, std::nullopt, false, std::nullopt);
    }
    // After a long sleep a few drains forget every bucket and two token
    // rotations invalidate every token: no need to replay more.
    for (int i = 0; i < 20 && next_drain <= now; i++) {
      next_drain += drain_interval;
      reqs.drain(now);
      if (--drains_left == 0) {
        drains_left = drains_per_rotation;
        tokens.rotate();
      }
    }
    if (next_drain <= now) next_drain = now + drain_interval;
    flush_sends();
    // index.js:765-771: a tick that comes more than SLEEPING_INTERVAL after
    // the previous one means the process slept (a laptop lid, a suspended
    // VM): the network may have changed under us.
    if (next_tick <= now && now - last_tick > sleeping_ticks * cfg.tick_interval) {
      on_wakeup();
      // The rest of this tick runs as JS's _ontick does after _onwakeup,
      // without counting it (the wake-up already moved the counter).
      tick--;
      on_tick(now);
      last_tick = now;
      next_tick = now + cfg.tick_interval;
      process_outcomes(now);
    }
    for (int i = 0; i < 3 && next_tick <= now; i++) {
      next_tick += cfg.tick_interval;
      last_tick = now;
      on_tick(now);
      process_outcomes(now);
    }
    if (next_tick <= now) next_tick = now + cfg.tick_interval;
  }

  std::optional<time_point> poll_timeout() const {
    if (closed) return std::nullopt;
    time_point t = std::min(next_tick, next_drain);
    if (auto r = reqs.next_timeout()) t = std::min(t, *r);
    if (!delayed.empty()) t = std::min(t, delayed.begin()->first);
    return t;
  }
};

node::node(node_config cfg, time_point now) : impl_(std::make_unique<impl>(std::move(cfg), now)) {}
node::~node() = default;

void node::receive(uint8_t socket, const ipv4_address& from, const uint8_t* data, size_t size,
                   time_point now) {
  auto& d = *impl_;
  d.st.datagrams_in++;
  if (d.closed) return;
  // io.js:84: a sender without a valid port is ignored.
  if (from.port == 0) {
    d.st.malformed++;
    return;
  }
  message m;
  try {
    m = decode(data, size);
  } catch (const std::exception&) {
    d.st.malformed++;
    return;
  }
  if (auto* req = std::get_if<rpc::request>(&m)) d.on_request(socket, from, *req, now);
  else d.on_response(from, std::get<rpc::response>(m), now);
  d.process_outcomes(now);
  d.flush_sends();
}

std::optional<time_point> node::poll_timeout() const { return impl_->poll_timeout(); }

void node::handle_timeout(time_point now) {
  auto& d = *impl_;
  if (d.closed) return;
  if (!d.bootstrap_started) bootstrap(now);
  d.handle_timeout(now);
}

std::optional<transmit> node::poll_transmit() {
  auto& d = *impl_;
  if (d.tx.empty()) return std::nullopt;
  transmit t = std::move(d.tx.front());
  d.tx.pop_front();
  return t;
}

bool node::poll_transmit(transmit& out) {
  auto& d = *impl_;
  if (d.tx.empty()) return false;
  transmit& t = d.tx.front();
  out.socket = t.socket;
  out.to = t.to;
  std::swap(out.data, t.data);
  // The caller's old buffer comes back to us for a later datagram.
  if (t.data.capacity() > 0 && d.spare.size() < impl::max_spare_buffers) d.spare.push_back(std::move(t.data));
  d.tx.pop_front();
  return true;
}

std::optional<event> node::poll_event() {
  auto& d = *impl_;
  if (d.events.empty()) return std::nullopt;
  event e = std::move(d.events.front());
  d.events.pop_front();
  return e;
}

uint64_t node::request(const request_options& opts, time_point now) {
  auto& d = *impl_;
  if (d.closed) {
    const uint64_t h = d.next_handle++;
    d.events.emplace_back(response_event{h, std::nullopt, request_error::closing});
    return h;
  }
  request_spec spec;
  spec.socket = opts.socket;
  spec.to = opts.to;
  spec.internal = opts.internal;
  spec.command = opts.command;
  spec.target = opts.target;
  spec.value = opts.value;
  spec.token = opts.token;
  purpose p;
  p.kind = purpose_kind::user;
  const uint64_t h = d.submit(std::move(p), std::move(spec), opts.retries.value_or(d.cfg.retries), now);
  if (h) return h;
  const uint64_t failed = d.next_handle++;
  d.events.emplace_back(response_event{failed, std::nullopt, request_error::too_many});
  return failed;
}

uint64_t node::query(const query_options& opts, time_point now) {
  auto& d = *impl_;
  if (d.closed) {
    const uint64_t h = d.next_handle++;
    d.events.emplace_back(query_done_event{h, {}, std::string(to_string(request_error::closing))});
    return h;
  }
  query_params p;
  p.target = opts.target;
  p.internal = opts.internal;
  p.command = opts.command;
  p.value = opts.value;
  p.k = d.cfg.k;
  p.concurrency = opts.concurrency.value_or(d.cfg.concurrency);
  p.commit = opts.commit;
  return d.start_query(std::move(p), opts.nodes, query_role::user, now);
}

void node::cancel(uint64_t handle) {
  auto& d = *impl_;
  auto pit = d.purposes.find(handle);
  if (pit != d.purposes.end() && pit->second.kind == purpose_kind::user) {
    d.reqs.cancel(handle);
    d.purposes.erase(pit);
    d.events.emplace_back(response_event{handle, std::nullopt, request_error::cancelled});
    return;
  }
  auto q = d.queries.find(handle);
  if (q == d.queries.end() || q->second.role != query_role::user) return;
  for (uint64_t id : q->second.requests) {
    d.reqs.cancel(id);
    d.purposes.erase(id);
  }
  d.events.emplace_back(query_done_event{handle, q->second.m.closest(),
                                         std::string(to_string(request_error::cancelled))});
  d.queries.erase(q);
}

void node::reply(const incoming_request& req, const reply_options& opts) {
  auto& d = *impl_;
  const ipv4_address dest = opts.to.value_or(req.from);
  std::optional<key32> closer;
  if (opts.closer_nodes) closer = req.target;
  d.send_response(opts.socket.value_or(req.socket), dest, req.tid, 0, opts.value, opts.token, closer);
}

void node::error(const incoming_request& req, uint64_t code, const reply_options& opts) {
  auto& d = *impl_;
  const ipv4_address dest = opts.to.value_or(req.from);
  std::optional<key32> closer;
  if (opts.closer_nodes) closer = req.target;
  // io.js:419-423: an error carries no value, and a token only when asked;
  // hyperdht asks only with INVALID_TOKEN, so that is when we send one.
  const bool token = opts.token && code == error_code::invalid_token;
  d.send_response(opts.socket.value_or(req.socket), dest, req.tid, code, std::nullopt, token, closer);
}

void node::relay(const incoming_request& req, std::optional<bytes> value, const ipv4_address& to,
                 std::optional<uint8_t> socket) {
  auto& d = *impl_;
  if (d.closed) return;
  // io.js:425-429: a request with the caller's tid, fire and forget.
  rpc::request r;
  r.tid = req.tid;
  r.to = to;
  if (!d.ephemeral) r.id = d.table->id();
  r.internal = req.internal;
  r.command = req.command;
  r.target = req.target;
  r.value = std::move(value);
  d.tx.push_back(transmit{socket.value_or(req.socket), to, encode(r)});
  d.st.datagrams_out++;
}

void node::bootstrap(time_point now) {
  auto& d = *impl_;
  if (d.bootstrap_started || d.closed) return;
  d.bootstrap_started = true;
  d.background_query(d.table->id(), query_role::bootstrap, now);
}

void node::close() {
  auto& d = *impl_;
  if (d.closed) return;
  d.closed = true;
  d.reqs.close();
  // Every user request and query gets its one outcome; internal ones just end.
  for (const auto& o : d.reqs.take_outcomes()) {
    auto pit = d.purposes.find(o.id);
    if (pit != d.purposes.end() && pit->second.kind == purpose_kind::user)
      d.events.emplace_back(response_event{o.id, std::nullopt, request_error::closing});
  }
  d.purposes.clear();
  for (auto& [h, q] : d.queries)
    if (q.role == query_role::user)
      d.events.emplace_back(query_done_event{h, q.m.closest(),
                                             std::string(to_string(request_error::closing))});
  d.queries.clear();
  d.delayed.clear();
  d.tx.clear();
}

const key32& node::id() const { return impl_->table->id(); }
bool node::ephemeral() const { return impl_->ephemeral; }
bool node::bootstrapped() const { return impl_->bootstrapped; }
std::optional<ipv4_address> node::public_address() const { return impl_->public_address(); }
firewall_class node::firewall() const { return impl_->firewall(); }

std::vector<ipv4_address> node::closest(const key32& target, size_t n) const {
  std::vector<ipv4_address> out;
  for (const table_node* t : impl_->table->closest(target, n)) out.push_back(t->addr);
  return out;
}

node_stats node::stats() const {
  node_stats s = impl_->st;
  s.unmatched_responses = impl_->reqs.unmatched();
  s.retries = impl_->reqs.resends();
  s.timeouts = impl_->reqs.timeouts();
  s.table_size = impl_->table->size();
  s.pending_requests = impl_->reqs.pending();
  return s;
}

key32 node::token_for(const ipv4_address& addr) const { return impl_->tokens.create(addr); }

} // namespace ht::rpc
