#pragma once
#include <stdexcept>
#include <string>

#include "dht/encoding/error.hpp"

namespace ht::secret_stream {

enum class errc {
  handshake_failed,    // the Noise XX handshake failed (see the message)
  remote_key_mismatch, // the peer authenticated with another key than expected
  invalid_header,      // the first frame after the handshake is not id||header
  bad_stream_id,       // the header's stream id does not match this handshake
  frame_too_short,     // a data frame shorter than the secretstream overhead
  frame_too_large,     // a handshake or header frame longer than allowed
  incoming_too_large,  // a message frame above options::max_incoming_message
  decrypt_failed,      // authentication failed: tampered, replayed or reordered frame
  after_final,         // a frame after the peer's FINAL-tagged message
  message_too_large,   // write() of more than max_message bytes
  not_open,            // unordered send before the handshake finished
  send_exhausted,      // the unordered-message nonce space is used up
  closed,              // the stream already failed or was closed
};
const char* to_string(errc c);

using error = enc::coded_error<errc>;

} // namespace ht::secret_stream
