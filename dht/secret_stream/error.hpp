#pragma once
#include <stdexcept>
#include <string>

namespace ht::secret_stream {

enum class errc {
  handshake_failed,    // the Noise XX handshake failed (see the message)
  remote_key_mismatch, // the peer authenticated with another key than expected
  invalid_header,      // the first frame after the handshake is not id||header
  bad_stream_id,       // the header's stream id does not match this handshake
  frame_too_short,     // a data frame shorter than the secretstream overhead
  frame_too_large,     // a frame longer than allowed in this phase
  decrypt_failed,      // authentication failed: tampered, replayed or reordered frame
  after_final,         // a frame after the peer's FINAL-tagged message
  message_too_large,   // write() of more than max_message bytes
  not_open,            // unordered send before the handshake finished
  send_exhausted,      // the unordered-message nonce space is used up
  closed,              // the stream already failed or was closed
};
const char* to_string(errc c);

class error : public std::runtime_error {
public:
  error(errc code, const std::string& what)
    : std::runtime_error(std::string(to_string(code)) + ": " + what), code_(code) {}
  errc code() const noexcept { return code_; }

private:
  errc code_;
};

} // namespace ht::secret_stream
