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
  std::vector<std::string> notes;           // what server.js would note
  std::set<size_t> kill_after;              // kill when log.size() hits these
  bool handshake = true;                    // false: never send one
  std::string handshake_override;           // non-empty: send this instead
  size_t accepted = 0;
  size_t kills = 0;
  std::map<connection_id, std::pair<connection_actor, public_key>> conns;
};

using fake_server_actor = acceptor_actor::extend_with<connection_handler_actor>;

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
        auto j = nlohmann::json::parse(line, nullptr, false);
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
