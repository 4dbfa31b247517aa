// The JS side of tests/hd_server/test_live.cpp: live checks of our
// hypertrace-logger-server binary with hyperdht 6.34.0's own code, all on
// 127.0.0.1 with an explicit bootstrap list (never the public network). Each
// step prints one JSON line.
//
//   node hd-live-peer.js findpeer <bootstrap> <server hex>
//       for each line on stdin: findPeer(publicKey) and lookup(hash(publicKey)),
//       then prints {"found": n, "lookupFound": n, "relays": [...]}.
//   node hd-live-peer.js resend <bootstrap> <server hex> <server host:port> <seed hex> <count> [batch every_ms]
//       (issue 10 §5 h) a hypertrace-logger 1.1.1 Client on a hyperdht
//       connection whose first PEER_HANDSHAKE (one Noise message) goes out
//       twice through the same relay, once through every other relay that
//       holds the server and once directly to the server; prints
//       {"step":"handshakes", sent, replied, distinct, noise}, then traces
//       <count> traces once connected (all at once, or <batch> every
//       <every_ms> ms) and prints {"traced": n}; runs until stdin ends.
//   node hd-live-peer.js hostile <bootstrap> <server hex> <server host:port> <noise hex>
//       (issue 10 §6) one hostile peer after another against the server
//       (forged noise, a handshake for another key, a replay of <noise hex>
//       at once and after the server's 10 s resend window, garbage after the
//       handshake, a frame over the server's --max-message-bytes, a peer
//       that never reads, handshakes whose stream never opens, a flood of
//       handshakes from one source); one {"step": ...} line each, then
//       {"step":"done"}.
'use strict'
const b4a = require('b4a')
const c = require('compact-encoding')
const crypto = require('crypto')
const DHT = require('hyperdht')
const m = require('hyperdht/lib/messages')
const NoiseWrap = require('hyperdht/lib/noise-wrap')
const { COMMANDS } = require('hyperdht/lib/constants')

const HOST = '127.0.0.1'
const FROM_CLIENT = 0 // hyperdht lib/router.js
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const parseAddress = (a) => {
  const i = a.lastIndexOf(':')
  return { host: a.slice(0, i), port: Number(a.slice(i + 1)) }
}
const parseBootstrap = (s) => s.split(',').map(parseAddress)

async function endpoint (bootstrap) {
  const dht = new DHT({ bootstrap: parseBootstrap(bootstrap), host: HOST })
  // OPEN on loopback once fully bootstrapped (see hd-server-peer.js client()).
  await dht.fullyBootstrapped()
  return dht
}

async function collect (stream) {
  const out = []
  for await (const x of stream) out.push(x)
  return out
}

// The nodes that hold the server's forward (they answer findPeer with its
// record). The server announces to the 3 closest nodes, but one findPeer on a
// loaded machine can miss a reply: ask again (bounded) until `atLeast` answer.
async function relaysOf (dht, publicKey, atLeast = 1) {
  for (let attempt = 1; ; attempt++) {
    const replies = await collect(dht.findPeer(publicKey))
    const relays = replies.filter((r) => r.peer && b4a.equals(r.peer.publicKey, publicKey)).map((r) => r.from)
    if (relays.length >= atLeast || attempt === 20) return relays
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

// One PEER_HANDSHAKE FROM_CLIENT, sent once (no dht-rpc retry): the reply's
// noise as hex, or null if nothing (or no REPLY noise) came back.
async function sendHandshake (dht, publicKey, noise, to) {
  const value = c.encode(m.handshake, { mode: FROM_CLIENT, noise, peerAddress: null, relayAddress: null })
  try {
    const res = await dht.request({ command: COMMANDS.PEER_HANDSHAKE, target: DHT.hash(publicKey), value }, to, { retry: false })
    const hs = res.value && c.decode(m.handshake, res.value)
    return hs && hs.noise ? b4a.toString(hs.noise, 'hex') : null
  } catch {
    return null
  }
}

// A first Noise IK message as connect.js builds it (connectThroughNode).
function clientNoise (keyPair, serverKey) {
  const w = new NoiseWrap(keyPair, serverKey)
  const noise = w.send({
    error: 0,
    firewall: 0,
    holepunch: null,
    addresses4: [],
    addresses6: [],
    udx: { reusableSocket: false, id: 1 + crypto.randomInt(0xfffffff), seq: 0 },
    secretStream: {},
    relayThrough: null
  })
  return { w, noise }
}

function untilStdinEnds () {
  return new Promise((resolve) => {
    process.stdin.on('data', () => {})
    process.stdin.on('end', resolve)
    process.stdin.on('close', resolve)
  })
}

async function findpeer (bootstrap, serverHex) {
  const dht = await endpoint(bootstrap)
  const publicKey = b4a.from(serverHex, 'hex')
  const readline = require('readline')
  const lines = readline.createInterface({ input: process.stdin })
  for await (const _ of lines) { // eslint-disable-line no-unused-vars
    const peers = await collect(dht.findPeer(publicKey))
    const looked = await collect(dht.lookup(DHT.hash(publicKey)))
    say({
      found: peers.filter((p) => p.peer).length,
      lookupFound: looked.reduce((n, r) => n + r.peers.length, 0),
      relays: peers.filter((p) => p.peer).map((p) => p.from.host + ':' + p.from.port)
    })
  }
  await dht.destroy()
}

class Room {
  constructor (createTracer, name) { this.tracer = createTracer(this, { props: { name } }) }
  enter (i) { this.tracer.trace('enter', { i }) }
}

async function resend (bootstrap, serverHex, serverAddress, seedHex, count, batch, every) {
  const { createTracer } = require('hypertrace')
  const Client = require('hypertrace-logger/client')
  const dht = await endpoint(bootstrap)
  const serverKey = b4a.from(serverHex, 'hex')
  const relays = await relaysOf(dht, serverKey, 2)
  const direct = parseAddress(serverAddress)

  // The connect's first handshake request goes out as connect.js sends it
  // (router.peerHandshake, with dht-rpc's retries), and the same noise also
  // goes out again through that relay, through each other relay and to the
  // server itself. connect.js carries on with the first reply.
  const router = dht._router
  const original = router.peerHandshake.bind(router)
  let first = true
  router.peerHandshake = async (target, opts, to) => {
    if (!first) return original(target, opts, to)
    first = false
    const others = relays.filter((r) => r.host !== to.host || r.port !== to.port)
    const copies = [to, ...others, direct]
    const results = await Promise.allSettled([original(target, opts, to),
      ...copies.map((t) => original(target, { ...opts }, t))])
    const noises = results.filter((r) => r.status === 'fulfilled').map((r) => b4a.toString(r.value.noise, 'hex'))
    say({
      step: 'handshakes',
      sent: results.length,
      replied: noises.length,
      distinct: new Set(noises).size,
      relays: 1 + others.length,
      noise: b4a.toString(opts.noise, 'hex')
    })
    if (results[0].status !== 'fulfilled') throw results[0].reason
    return results[0].value
  }

  const keyPair = DHT.keyPair(b4a.from(seedHex, 'hex'))
  const client = new Client()
  client.on('connection-error', (err) => say({ event: 'connection-error', code: err.code || null }))
  await client.start({
    createSocket: () => dht.connect(serverKey, { keyPair }),
    getInitialProps: async () => ({ username: 'resend' })
  })
  while (!client._tracingStream) await sleep(10)
  const room = new Room(createTracer, 'resend')
  let i = 0
  while (i < count) {
    for (let j = 0; j < (batch || count) && i < count; j++, i++) room.enter(i)
    if (batch) await sleep(every)
  }
  say({ traced: i })
  await untilStdinEnds()
  process.exit(0)
}

// A hyperdht connection from `keyPair` that sends one valid trace (so the
// server has a session and a .log file for this key), then resolves with
// the open socket.
async function sessionSocket (dht, serverKey, keyPair, name) {
  const socket = dht.connect(serverKey, { keyPair })
  const closed = new Promise((resolve) => socket.once('close', resolve))
  socket.on('error', () => {})
  await new Promise((resolve, reject) => {
    socket.once('open', resolve)
    socket.once('close', () => reject(new Error(name + ': closed before opening')))
  })
  // The server's session handshake ({lastSeenTraceSessionId, ...}) first.
  await new Promise((resolve) => socket.once('data', resolve))
  socket.write(JSON.stringify({
    traceTimestamp: new Date().toISOString(),
    traceSessionId: 'hostile-' + name,
    traceNumber: 0,
    id: name,
    props: { username: name }
  }))
  return { socket, closed }
}

async function closedWithin (closed, ms) {
  return Promise.race([closed.then(() => true), sleep(ms).then(() => false)])
}

async function hostile (bootstrap, serverHex, serverAddress, goodNoiseHex) {
  const started = Date.now()
  const dht = await endpoint(bootstrap)
  const serverKey = b4a.from(serverHex, 'hex')
  const direct = parseAddress(serverAddress)
  const relays = await relaysOf(dht, serverKey)
  const relay = relays[0] || direct
  const keyOf = (n) => DHT.keyPair(b4a.alloc(32, n))

  // Forged noise: random bytes, through a relay and directly.
  const forged = crypto.randomBytes(96)
  say({
    step: 'forged',
    replied: [await sendHandshake(dht, serverKey, forged, relay), await sendHandshake(dht, serverKey, forged, direct)]
      .filter((r) => r !== null).length
  })

  // A well-formed handshake for another server key, sent to ours.
  const other = keyOf(0x51).publicKey
  const wrong = clientNoise(keyOf(0x52), other).noise
  say({ step: 'wrongkey', replied: (await sendHandshake(dht, serverKey, wrong, relay)) !== null })

  // The good client's handshake replayed at once (within the resend window:
  // the first answer again, no second connection).
  const goodNoise = b4a.from(goodNoiseHex, 'hex')
  const replayNow = await sendHandshake(dht, serverKey, goodNoise, direct)
  say({ step: 'replay', replied: replayNow !== null })

  // Garbage after the handshake: plaintext bytes on the raw UDX stream
  // where secret-stream frames belong.
  {
    const { socket, closed } = await sessionSocket(dht, serverKey, keyOf(0x61), 'garbage')
    await sleep(300)
    socket.rawStream.write(b4a.from([0x05, 0x00, 0x00, 1, 2, 3, 4, 5]))
    say({ step: 'garbage', closed: await closedWithin(closed, 15000) })
  }

  // A frame over the server's --max-message-bytes (64 KiB in the test).
  {
    const { socket, closed } = await sessionSocket(dht, serverKey, keyOf(0x62), 'oversize')
    await sleep(300)
    socket.write(JSON.stringify({ traceSessionId: 'hostile-oversize', traceNumber: 1, id: 'x'.repeat(100000) }))
    say({ step: 'oversize', closed: await closedWithin(closed, 15000) })
  }

  // A peer that never reads: it stops its stream and keeps the connection.
  const idle = await sessionSocket(dht, serverKey, keyOf(0x63), 'noread')
  idle.socket.pause()
  idle.socket.rawStream.pause()
  say({ step: 'noread' })

  // Handshakes whose stream never opens (the client never sends a packet).
  let unopened = 0
  for (let i = 0; i < 5; i++) {
    unopened += (await sendHandshake(dht, serverKey, clientNoise(keyOf(0x70 + i), serverKey).noise, direct)) !== null
  }
  say({ step: 'unopened', replied: unopened })

  // The replay again once the server's 10 s resend window is over: it gets
  // a fresh answer that only the holder of the client's key could use.
  const wait = 11000 - (Date.now() - started)
  if (wait > 0) await sleep(wait)
  const replayLate = await sendHandshake(dht, serverKey, goodNoise, direct)
  say({ step: 'replaylate', replied: replayLate !== null, differs: replayLate !== replayNow })

  // A flood from one source: 300 valid handshakes of fresh key pairs at once.
  const flood = []
  for (let i = 0; i < 300; i++) {
    flood.push(sendHandshake(dht, serverKey, clientNoise(DHT.keyPair(), serverKey).noise, direct))
  }
  const answered = (await Promise.all(flood)).filter((r) => r !== null).length
  say({ step: 'flood', sent: 300, replied: answered })

  idle.socket.destroy()
  say({ step: 'done' })
  await untilStdinEnds()
  process.exit(0)
}

const [mode, ...args] = process.argv.slice(2)
const run = {
  findpeer: () => findpeer(args[0], args[1]),
  resend: () => resend(args[0], args[1], args[2], args[3], Number(args[4]), Number(args[5] || 0), Number(args[6] || 0)),
  hostile: () => hostile(args[0], args[1], args[2], args[3])
}[mode]
run().catch((err) => { say({ step: 'error', message: err.stack }); process.exit(1) })
