#pragma once
// The log store: one file-writer actor for the server owning every
// <folder>/<client key hex>.log file. The protocol is store_actor in
// messages/store.hpp; docs/store.md describes the design.
#include <memory>

#include <caf/actor_system.hpp>

#include "actors/store/file_system.hpp"
#include "messages/store.hpp"

namespace ht {

/// Spawns the store. `fs` defaults to the real file system; tests pass a
/// store::faulty_file_system (tests/doubles). With cfg.detached the actor gets its own
/// thread, so blocking file I/O never stalls the scheduler's workers.
store_actor spawn_store(caf::actor_system& sys, store_config cfg,
                        std::shared_ptr<store::file_system> fs
                        = store::make_posix_file_system());

} // namespace ht
