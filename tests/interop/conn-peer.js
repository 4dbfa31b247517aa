'use strict'
// Interop peer for tests/connection/test_interop.cpp: what hyperdht does
// once a PEER_HANDSHAKE is done, on a real udx-native socket on 127.0.0.1.
//
//   node conn-peer.js <noise> <udx> <count> <ourSeedHex> <theirPublicKeyHex> [report-stalls]
//     noise: initiator | responder   (our role in the Noise IK)
//     udx:   active | passive        (active: we connect to the C++ end;
//                                     passive: the firewall hook connects
//                                     us to the first packet's sender, as
//                                     hyperdht's server does)
//
// Lines on stdout / stdin:
//   > ready <port> <udxId>
//   Noise IK (NoiseWrap, standing in for the DHT relay):
//     initiator: > m1 <hex>   < m2 <hex>
//     responder: < m1 <hex>   > m2 <hex>
//   the payloads carry the UDX stream ids (udx.id) as in hyperdht
//   active only: < port <cppPort>
//   Then secret-stream from the handshake (keepAlive 5000, as hyperdht) over
//   a raw stream created as hyperdht creates it ({ framed: true }); each
//   side sends <count> messages (conn_test::make_message, direction 1 from
//   us) and checks the other's (direction 0).
//   > {"event":"stalled", written}   (report-stalls) a write waited > 1 s for drain
//   > {"event":"done", ok, received, error}   once we have sent and received all
//   When the C++ end ends, we end too (as a hyperdht peer should):
//   > {"event":"close", error, received}
const UDX = require('udx-native')
const b4a = require('b4a')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const { readLine, noiseOverLines } = require('./noise-lines')

const [noiseRole, udxRole, countArg, seedHex, remoteHex, reportArg] = process.argv.slice(2)
const reportStalls = reportArg === 'report-stalls'
const count = Number(countArg)
const keyPair = NoiseSecretStream.keyPair(b4a.from(seedHex, 'hex'))
const expectedRemote = b4a.from(remoteHex, 'hex')
const OUR_DIR = 1
const THEIR_DIR = 0
const OUR_UDX_ID = 0x5eed0001

// Mirrors tests/connection/connection_support.hpp.
function mix (x) {
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0
  return (x ^ (x >>> 16)) >>> 0
}
function messageSize (dir, i) {
  if (i % 100 === 50) return 65536 + (i % 7)
  return 1 + (mix(i * 2 + dir) % 2048)
}
function makeMessage (dir, i) {
  const buf = b4a.allocUnsafe(messageSize(dir, i))
  const base = mix((i * 2 + dir + 0x9e3779b9) >>> 0)
  for (let j = 0; j < buf.byteLength; j++) buf[j] = (base + j * 131) & 255
  return buf
}
function checkMessage (dir, i, msg) {
  const want = makeMessage(dir, i)
  if (!b4a.equals(want, msg)) return `message ${i}: ${msg.byteLength} bytes differ from the expected ${want.byteLength}`
  return null
}

function out (obj) {
  process.stdout.write((typeof obj === 'string' ? obj : JSON.stringify(obj)) + '\n')
}

const udx = new UDX()
const socket = udx.createSocket()
socket.bind(0, '127.0.0.1')

let handshake = null
let remoteUdxId = 0
let secret = null

function startSecretStream (rawStream) {
  const s = new NoiseSecretStream(noiseRole === 'initiator', rawStream, { handshake, keepAlive: 5000 })
  secret = s
  let received = 0
  let sent = false
  let error = null
  let doneReported = false
  const maybeDone = () => {
    if (doneReported || received !== count || !sent) return
    doneReported = true
    out({ event: 'done', ok: true, received })
  }
  s.on('error', (err) => { error = err.code || err.message })
  s.on('data', (msg) => {
    const err = checkMessage(THEIR_DIR, received, msg)
    if (err) {
      out({ event: 'done', ok: false, received, error: err })
      s.destroy()
      return
    }
    received++
    maybeDone()
  })
  s.on('end', () => s.end())
  s.on('close', () => {
    out({ event: 'close', error, received })
    setTimeout(() => process.exit(0), 20)
  })
  s.on('connect', async () => {
    if (!b4a.equals(s.remotePublicKey, expectedRemote)) {
      out({ event: 'done', ok: false, received, error: 'unexpected remote public key' })
      s.destroy()
      return
    }
    for (let i = 0; i < count; i++) {
      if (!s.write(makeMessage(OUR_DIR, i))) {
        // Backpressure from the C++ end (its receive window closed): say
        // so when it lasts, for the flow-control case.
        const written = i + 1
        const t = reportStalls ? setTimeout(() => out({ event: 'stalled', written }), 1000) : null
        await new Promise((resolve) => s.once('drain', resolve))
        if (t) clearTimeout(t)
      }
    }
    sent = true
    maybeDone()
  })
}

async function main () {
  let raw
  if (udxRole === 'passive') {
    // hyperdht server.js: the firewall hook connects the stream to the
    // first packet's sender; returning false lets libudx process it.
    raw = udx.createStream(OUR_UDX_ID, {
      framed: true,
      firewall (sock, port, host) {
        raw.connect(sock, remoteUdxId, port, host)
        startSecretStream(raw)
        return false
      }
    })
  } else {
    raw = udx.createStream(OUR_UDX_ID, { framed: true })
  }
  out(`ready ${socket.address().port} ${OUR_UDX_ID}`)

  const payload = { error: 0, firewall: 0, udx: { reusableSocket: false, id: OUR_UDX_ID, seq: 0 }, secretStream: {} }
  const ik = await noiseOverLines(keyPair, noiseRole === 'initiator', expectedRemote, payload)
  const remotePayload = ik.remotePayload
  if (!remotePayload.udx || !remotePayload.secretStream) throw new Error('payload without udx/secretStream')
  remoteUdxId = remotePayload.udx.id
  handshake = ik.handshake

  if (udxRole === 'active') {
    const port = Number((await readLine()).slice(5))
    raw.connect(socket, remoteUdxId, port, '127.0.0.1')
    startSecretStream(raw)
  }
}

main().catch((err) => {
  out({ event: 'done', ok: false, received: 0, error: String(err && err.stack) })
  process.exit(1)
})
