#pragma once
// A server for client tests that speaks the hypertrace-logger session
// protocol exactly as server.js does: per client key it remembers the last
// session id and trace number it saw, sends them as the handshake of every
// new connection, then takes one JSON trace per message and "logs" it (into
// `log`, one entry per message, duplicates included, so a test sees any
// duplicate the client sends). It can kill its end of a connection after
// chosen numbers of received traces, which the client sees as ECONNRESET.
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "messages/connection.hpp"

namespace ht::test {

struct fake_server_state {
  // Held by the server's handlers; tests on real threads lock it to read.
  std::mutex mtx;
  struct session {
    nlohmann::json last_session_id = nullptr;
    nlohmann::json last_number = nullptr;
  };
  std::map<public_key, session> sessions;
  std::vector<std::string> log;             // every trace line received
  std::vector<int64_t> numbers;             // traceNumber of each, same order
  std::vector<std::string> notes;           // what server.js would note
  std::set<size_t> kill_after;              // kill when log.size() hits these
  bool handshake = true;                    // false: never send one
  std::string handshake_override;           // non-empty: send this instead
  size_t accepted = 0;
  size_t kills = 0;
  std::map<connection_id, std::pair<connection_actor, public_key>> conns;
};

using fake_server_actor = acceptor_actor::extend_with<connection_handler_actor>;

/// The two top-level fields the protocol needs from one trace line, read
/// without building the whole document; `fields` is null unless the line is
/// one valid JSON object. The replay scenarios push about a million lines
/// through here, and under ASan building a full DOM per line was most of
/// their time.
struct trace_fields : nlohmann::json::json_sax_t {
  using json = nlohmann::json;
  json fields;
  int depth = 0;
  bool in_wanted = false; // the current top-level key is one we keep
  std::string current; // the current top-level key

  static json read(const std::string& line) {
    trace_fields t;
    if (!json::sax_parse(line, &t) || !t.fields.is_object())
      return nullptr;
    return std::move(t.fields);
  }

  bool keep(json v) {
    if (depth == 1 && in_wanted)
      fields[current] = std::move(v);
    return true;
  }
  bool null() override { return keep(nullptr); }
  bool boolean(bool v) override { return keep(v); }
  bool number_integer(number_integer_t v) override { return keep(v); }
  bool number_unsigned(number_unsigned_t v) override { return keep(v); }
  bool number_float(number_float_t v, const string_t&) override { return keep(v); }
  bool string(string_t& v) override { return keep(std::move(v)); }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    if (depth++ == 0)
      fields = json::object();
    return true;
  }
  bool key(string_t& k) override {
    if (depth == 1) {
      in_wanted = k == "traceSessionId" || k == "traceNumber";
      current = k;
    }
    return true;
  }
  bool end_object() override { --depth; return true; }
  bool start_array(std::size_t) override { ++depth; return true; }
  bool end_array() override { --depth; return true; }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) override {
    return false;
  }
};

inline fake_server_actor spawn_fake_server(caf::actor_system& sys,
                                           fake_server_state& st) {
  // (An argument, not a capture: CAF 0.17 trips UBSan on spawns of
  // functions without arguments.)
  return sys.spawn([](fake_server_actor::pointer self, fake_server_state* stp)
                     -> fake_server_actor::behavior_type {
    auto& st = *stp;
    auto pending = std::make_shared<std::map<caf::actor_addr, std::pair<connection_actor, public_key>>>();
    return {
      [self, &st, pending](accept_atom, connection_actor& conn, public_key& remote) {
        std::lock_guard<std::mutex> guard{st.mtx};
        ++st.accepted;
        (*pending)[conn.address()] = {conn, remote};
        self->send(conn, attach_atom::value,
                   caf::actor_cast<connection_handler_actor>(self));
      },
      [self, &st, pending](opened_atom, connection_id id, public_key&) {
        std::lock_guard<std::mutex> guard{st.mtx};
        auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
        auto i = pending->find(sender);
        if (i == pending->end())
          return;
        auto [conn, remote] = i->second;
        pending->erase(i);
        st.conns[id] = {conn, remote};
        auto& s = st.sessions[remote];
        if (!st.handshake)
          return;
        std::string hs = st.handshake_override;
        if (hs.empty())
          hs = nlohmann::json{{"lastSeenTraceSessionId", s.last_session_id},
                              {"lastSeenTraceNumber", s.last_number}}.dump();
        self->send(conn, write_atom::value, bytes(hs.begin(), hs.end()));
      },
      [self, &st](message_atom, connection_id id, bytes& data) {
        std::lock_guard<std::mutex> guard{st.mtx};
        auto c = st.conns.find(id);
        if (c == st.conns.end())
          return;
        std::string line(data.begin(), data.end());
        auto j = trace_fields::read(line);
        if (!j.is_object())
          return;
        auto& s = st.sessions[c->second.second];
        bool same = s.last_session_id == j["traceSessionId"];
        if (!same)
          st.notes.push_back("New session");
        else if (s.last_number.get<int64_t>() + 1 != j["traceNumber"].get<int64_t>())
          st.notes.push_back("Skipped " + std::to_string(j["traceNumber"].get<int64_t>()
                                                         - s.last_number.get<int64_t>() - 1));
        s.last_session_id = j["traceSessionId"];
        s.last_number = j["traceNumber"];
        st.log.push_back(std::move(line));
        st.numbers.push_back(j["traceNumber"].get<int64_t>());
        if (st.kill_after.count(st.log.size())) {
          ++st.kills;
          self->send_exit(c->second.first, caf::exit_reason::kill);
          st.conns.erase(c);
        }
      },
      [&st](closed_atom, connection_id id, std::string&, std::string&) {
        std::lock_guard<std::mutex> guard{st.mtx};
        st.conns.erase(id);
      },
    };
  }, &st);
}

} // namespace ht::test
