// A JS hyperdht server and client whose only DHT nodes are ours
// (hypertrace-logger-dht, given as the bootstrap list). Driven by
// tests/hyperdht_node/test_interop.cpp: each step prints one JSON line, and
// the script waits for a line on stdin where the C++ side checks our nodes'
// counters in between.
//
//   node hd-network.js 127.0.0.1:P1[,127.0.0.1:P2...]
//
// Steps: ready -> listening (server announced) -> connected (echo through a
// connection relayed by our node) -> stored (mutable + immutable put/get)
// -> [stdin] -> closed (server closed, so unannounced) -> findpeer (what
// findPeer / lookup find for its key now) -> done.
const DHT = require('hyperdht')
const b4a = require('b4a')
const readline = require('readline')

const bootstrap = process.argv[2].split(',')
const lines = readline.createInterface({ input: process.stdin })
const waiting = []
lines.on('line', (l) => { const w = waiting.shift(); if (w) w(l) })
const nextLine = () => new Promise((resolve) => waiting.push(resolve))
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n')

async function collect (stream) {
  const out = []
  for await (const x of stream) out.push(x)
  return out
}

async function main () {
  // host: loopback only; no JS node besides the two endpoints
  const a = new DHT({ bootstrap, host: '127.0.0.1' })
  const b = new DHT({ bootstrap, host: '127.0.0.1' })
  await a.ready()
  await b.ready()
  say({ step: 'ready', aPersistent: !a.ephemeral, bPersistent: !b.ephemeral })

  const keyPair = DHT.keyPair(b4a.alloc(32, 5))
  const server = a.createServer((socket) => {
    socket.on('data', (d) => socket.write(d))
    socket.on('error', () => {})
  })
  await server.listen(keyPair)
  const before = await collect(b.findPeer(keyPair.publicKey))
  say({
    step: 'listening',
    publicKey: b4a.toString(keyPair.publicKey, 'hex'),
    found: before.filter((p) => p.peer && b4a.equals(p.peer.publicKey, keyPair.publicKey)).length
  })

  const socket = b.connect(keyPair.publicKey)
  socket.on('error', (e) => say({ step: 'error', message: e.message }))
  await new Promise((resolve) => socket.once('open', resolve))
  socket.write(b4a.from('hello through our relay'))
  const echo = await new Promise((resolve) => socket.once('data', resolve))
  say({ step: 'connected', echo: b4a.toString(echo), remote: socket.rawStream.remoteHost })
  socket.destroy()

  const mkp = DHT.keyPair(b4a.alloc(32, 6))
  await b.mutablePut(mkp, b4a.from('mutable value'))
  const m = await a.mutableGet(mkp.publicKey, { latest: true })
  const put = await b.immutablePut(b4a.from('immutable value'))
  const i = await a.immutableGet(put.hash)
  say({
    step: 'stored',
    mutable: m ? b4a.toString(m.value) : null,
    seq: m ? m.seq : null,
    immutable: i ? b4a.toString(i.value) : null
  })
  await nextLine()

  await server.close()
  say({ step: 'closed' })
  const peers = await collect(b.findPeer(keyPair.publicKey))
  const looked = await collect(b.lookup(DHT.hash(keyPair.publicKey)))
  say({
    step: 'findpeer',
    replies: peers.length,
    found: peers.filter((p) => p.peer).length,
    lookupReplies: looked.length,
    lookupFound: looked.reduce((n, r) => n + r.peers.length, 0)
  })
  await a.destroy()
  await b.destroy()
  say({ step: 'done' })
  lines.close()
}

main().catch((e) => {
  say({ step: 'error', message: e.stack })
  process.exit(1)
})
