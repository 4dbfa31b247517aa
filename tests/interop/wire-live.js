// Live peer for tests/wire/test_interop_live.cpp: @hyperswarm/secret-stream
// over a loopback TCP socket (its own Noise XX handshake), exchanging a
// deterministic message sequence with the C++ peer and checking every byte.
//
//   node wire-live.js server <count> <ourSeedHex> <theirPublicKeyHex>
//       listens on 127.0.0.1:0, prints "listening <port>", is the responder
//   node wire-live.js client <count> <ourSeedHex> <theirPublicKeyHex> <port>
//       connects, is the initiator
// Prints one JSON line at the end: { ok, received, bytes, error }.
'use strict'
const net = require('net')
const b4a = require('b4a')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const { messageSize, fillMessage, checkMessage } = require('./wire-live-messages')

const [mode, countArg, seedHex, remoteHex, portArg] = process.argv.slice(2)
const count = Number(countArg)
const keyPair = NoiseSecretStream.keyPair(b4a.from(seedHex, 'hex'))
const expectedRemote = b4a.from(remoteHex, 'hex')
// Direction tags: the C++ side sends direction 0, we send direction 1.
const OUR_DIR = 1
const THEIR_DIR = 0

let reported = false
function report (r) {
  if (reported) return
  reported = true
  process.stdout.write(JSON.stringify(r) + '\n')
}

function run (socket, isInitiator) {
  const s = new NoiseSecretStream(isInitiator, socket, { keyPair })
  let received = 0
  let bytes = 0
  let sendDone = false

  const finishIfDone = () => {
    if (received === count && sendDone) {
      report({ ok: true, received, bytes })
      s.end()
    }
  }

  s.on('error', (err) => report({ ok: false, received, bytes, error: String(err && err.message) }))
  s.on('close', () => { report({ ok: false, received, bytes, error: 'closed early' }); setTimeout(() => process.exit(0), 10) })
  s.on('data', (msg) => {
    const err = checkMessage(THEIR_DIR, received, msg)
    if (err) {
      report({ ok: false, received, bytes, error: err })
      s.destroy()
      return
    }
    received++
    bytes += msg.byteLength
    finishIfDone()
  })

  s.on('connect', async () => {
    if (!b4a.equals(s.remotePublicKey, expectedRemote)) {
      report({ ok: false, received, bytes, error: 'unexpected remote public key' })
      s.destroy()
      return
    }
    for (let i = 0; i < count; i++) {
      const msg = b4a.allocUnsafe(messageSize(OUR_DIR, i))
      fillMessage(OUR_DIR, i, msg)
      if (!s.write(msg)) await new Promise((resolve) => s.once('drain', resolve))
    }
    sendDone = true
    finishIfDone()
  })
}

if (mode === 'server') {
  const server = net.createServer((socket) => { server.close(); run(socket, false) })
  server.listen(0, '127.0.0.1', () => process.stdout.write('listening ' + server.address().port + '\n'))
} else {
  const socket = net.connect(Number(portArg), '127.0.0.1')
  run(socket, true)
}
