// Live peer for tests/wire/test_interop_live.cpp: @hyperswarm/secret-stream
// over a loopback TCP socket (its own Noise XX handshake), exchanging a
// deterministic message sequence with the C++ peer and checking every byte.
//
//   node wire-live.js server <count> <ourSeedHex> <theirPublicKeyHex>
//       listens on 127.0.0.1:0, prints "listening <port>", is the responder
//   node wire-live.js client <count> <ourSeedHex> <theirPublicKeyHex> <port>
//       connects, is the initiator
//   node wire-live.js corrupt-client <count> <ourSeedHex> <theirPublicKeyHex> <port>
//       bad-input exchange, see corrupt() below
//   node wire-live.js ik-server|ik-client <count> <ourSeedHex> <theirPublicKeyHex>
//       first runs hyperdht's PEER_HANDSHAKE (NoiseWrap, Noise IK) with the
//       C++ peer over stdin/stdout lines ("m1 <hex>", "m2 <hex>", standing in
//       for the DHT relay), then starts secret-stream from that handshake
//       ({ handshake }) over TCP: ik-server listens and prints "listening
//       <port>", ik-client reads "port <n>" and connects.
// Prints one JSON line at the end: { ok, received, bytes, error }.
'use strict'
const net = require('net')
const b4a = require('b4a')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const { readLine, noiseOverLines } = require('./noise-lines')
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

function run (socket, isInitiator, handshake) {
  const s = new NoiseSecretStream(isInitiator, socket, handshake ? { handshake } : { keyPair })
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

// Bad input across implementations: we (JS initiator) send 5 good messages,
// then a frame with a forged body straight onto the socket, then one more
// good message; the C++ peer must deliver exactly 5 and close. The C++ peer
// sends 3 good messages then a bit-flipped one: we report what we got.
function corrupt (port) {
  const socket = net.connect(port, '127.0.0.1')
  const s = new NoiseSecretStream(true, socket, { keyPair })
  let received = 0
  s.on('data', () => { received++ })
  const done = (error) => {
    report({ ok: true, received, bytes: 0, error: String(error && error.message ? error.message : error) })
    setTimeout(() => process.exit(0), 10)
  }
  s.on('error', done)
  s.on('close', () => done('closed'))
  s.on('connect', async () => {
    for (let i = 0; i < 5; i++) {
      const msg = b4a.allocUnsafe(messageSize(OUR_DIR, i))
      fillMessage(OUR_DIR, i, msg)
      s.write(msg)
    }
    await s.flush()
    const forged = b4a.alloc(3 + 40, 0x5a)
    forged[0] = 40
    forged[1] = 0
    forged[2] = 0
    socket.write(forged)
    s.write(b4a.from('after the forged frame'))
  })
}

// The payload each side sends: what hyperdht would, with distinguishable values.
const OUR_PAYLOAD = { error: 0, firewall: 1, udx: { reusableSocket: false, id: 77, seq: 0 }, secretStream: {}, addresses4: [{ host: '127.0.0.1', port: 7 }] }

async function ik (isInitiator) {
  const { remotePayload, remotePublicKey, handshake } = await noiseOverLines(keyPair, isInitiator, expectedRemote, OUR_PAYLOAD)
  // The C++ peer sends firewall 2, udx id 99 and secretStream: check we read them.
  if (remotePayload.firewall !== 2 || !remotePayload.udx || remotePayload.udx.id !== 99 || !remotePayload.secretStream) {
    report({ ok: false, received: 0, bytes: 0, error: 'unexpected payload ' + JSON.stringify(remotePayload) })
    process.exit(1)
  }
  if (!b4a.equals(remotePublicKey, expectedRemote)) {
    report({ ok: false, received: 0, bytes: 0, error: 'unexpected remote key' })
    process.exit(1)
  }
  if (isInitiator) {
    const port = Number((await readLine()).slice(5))
    run(net.connect(port, '127.0.0.1'), true, handshake)
  } else {
    const server = net.createServer((socket) => { server.close(); run(socket, false, handshake) })
    server.listen(0, '127.0.0.1', () => process.stdout.write('listening ' + server.address().port + '\n'))
  }
}

if (mode === 'corrupt-client') {
  corrupt(Number(portArg))
} else if (mode === 'ik-server' || mode === 'ik-client') {
  ik(mode === 'ik-client').catch((err) => { report({ ok: false, received: 0, bytes: 0, error: String(err) }); process.exit(1) })
} else if (mode === 'server') {
  const server = net.createServer((socket) => { server.close(); run(socket, false) })
  server.listen(0, '127.0.0.1', () => process.stdout.write('listening ' + server.address().port + '\n'))
} else {
  const socket = net.connect(Number(portArg), '127.0.0.1')
  run(socket, true)
}
