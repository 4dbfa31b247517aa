#pragma once
// Atoms shared by every actor protocol. CAF 0.17 identifies message kinds by
// atoms (at most 10 characters); each protocol header below groups the
// typed_actor interfaces built from them.
#include <caf/atom.hpp>

namespace ht {

// transport seam (messages/connection.hpp)
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using write_atom = caf::atom_constant<caf::atom("write")>;
using close_atom = caf::atom_constant<caf::atom("close")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using opened_atom = caf::atom_constant<caf::atom("opened")>;
using message_atom = caf::atom_constant<caf::atom("message")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using accept_atom = caf::atom_constant<caf::atom("accept")>;
using connect_atom = caf::atom_constant<caf::atom("connect")>;
using listen_atom = caf::atom_constant<caf::atom("listen")>;
using unlisten_atom = caf::atom_constant<caf::atom("unlisten")>;

// log store (messages/store.hpp)
using append_atom = caf::atom_constant<caf::atom("append")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using recover_atom = caf::atom_constant<caf::atom("recover")>;
using status_atom = caf::atom_constant<caf::atom("status")>;

// server root (messages/server.hpp)
using store_atom = caf::atom_constant<caf::atom("store")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using drained_atom = caf::atom_constant<caf::atom("drained")>;
using stalled_atom = caf::atom_constant<caf::atom("stalled")>;

// timers that actors send to themselves
using tick_atom = caf::atom_constant<caf::atom("tick")>;

} // namespace ht
