// A free UDP port for a JS node of the interop tests (dht-interop.js,
// hd-server-peer.js, hd-client-peer.js). The range [p, p+5) (dht-rpc's
// io.js binds the first free port of it) stays clear of 49737-49741,
// hyperdht's default ports, which tests leave free.
'use strict'
const dgram = require('dgram')

async function freePort (host = '127.0.0.1') {
  for (;;) {
    const s = dgram.createSocket('udp4')
    await new Promise((resolve, reject) => {
      s.once('error', reject)
      s.bind(0, host, resolve)
    })
    const port = s.address().port
    await new Promise((resolve) => s.close(resolve))
    if (port + 5 < 49737 || port > 49741) return port
  }
}

module.exports = { freePort }
