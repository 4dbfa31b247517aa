// The JS side of bench_e2e: the unmodified npm hypertrace-logger 1.1.1
// Client, its sockets hyperdht connections to a server's key through a
// private DHT on 127.0.0.1, tracing <count> traces at once when connected.
//
//   node bench/hyperdht/e2e-client.js <bootstrap host:port> <server hex> <seed hex> <count> <session>
//
// Prints one JSON line per step, each with `t`, the wall clock in ms
// (performance.timeOrigin + now(), comparable with CLOCK_REALTIME in the
// bench): {"step":"connecting"} right before Client#start (createSocket ->
// dht.connect), {"step":"open"} on the Client's 'open' event (the
// connection is up), {"step":"ready"} once the server's session handshake
// arrived (the Client then writes traces straight to the stream),
// {"step":"first"} right before the first trace, {"step":"traced","n":N}
// after the last one. Runs until stdin ends. Same trace shape as
// tests/interop/hd-server-peer.js (Room.enter).
'use strict'
const path = require('path')
const { createRequire } = require('module')

const interop = createRequire(path.join(__dirname, '../../tests/interop/package.json'))
const b4a = interop('b4a')
const DHT = interop('hyperdht')
const { createTracer } = interop('hypertrace')
const Client = interop('hypertrace-logger/client')

const HOST = '127.0.0.1'
const now = () => performance.timeOrigin + performance.now()
const say = (o) => process.stdout.write(JSON.stringify({ ...o, t: now() }) + '\n')

class Room {
  constructor (name) { this.tracer = createTracer(this, { props: { name } }) }
  enter (i) { this.tracer.trace('enter', { i, even: i % 2 === 0, label: 'n' + i }) }
}

async function main (bootstrap, serverHex, seedHex, count, session) {
  const [host, port] = bootstrap.split(':')
  const dht = new DHT({ bootstrap: [{ host, port: Number(port) }], host: HOST })
  // OPEN on loopback once fully bootstrapped (no holepunch attempt).
  await dht.fullyBootstrapped()
  const keyPair = DHT.keyPair(b4a.from(seedHex, 'hex'))
  const serverKey = b4a.from(serverHex, 'hex')
  const c = new Client()
  c._traceSessionId = session // the same traces for every server
  c.on('open', () => say({ step: 'open' }))
  c.on('connection-error', (err) => say({ step: 'connection-error', code: err.code || null, message: err.message }))
  say({ step: 'connecting' })
  await c.start({
    createSocket: () => dht.connect(serverKey, { keyPair }),
    getInitialProps: async () => ({ username: 'bench' })
  })
  // The Client keeps at most ~2048 traces while it has no connection: trace
  // once the server's handshake arrived (polled every ms).
  while (!c._tracingStream) await new Promise((resolve) => setTimeout(resolve, 1))
  say({ step: 'ready' })
  const room = new Room('lobby')
  say({ step: 'first' })
  for (let i = 0; i < count; i++) room.enter(i)
  say({ step: 'traced', n: count })
  process.stdin.on('data', () => {})
  await new Promise((resolve) => { process.stdin.on('end', resolve); process.stdin.on('close', resolve) })
  process.exit(0)
}

const a = process.argv.slice(2)
main(a[0], a[1], a[2], Number(a[3]), a[4]).catch((err) => { console.error(err); process.exit(1) })
