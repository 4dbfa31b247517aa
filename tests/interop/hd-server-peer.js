// The JS side of tests/hd_server/test_interop.cpp: a JS testnet, the
// unmodified hypertrace-logger 1.1.1 Client and Server, on 127.0.0.1 only.
//
//   node hd-server-peer.js testnet <size>
//       persistent hyperdht nodes on explicit free ports (createTestnet's
//       nodes would take hyperdht's default ports 49737-49741, which tests
//       leave free); prints {"bootstrap":"127.0.0.1:P"}; runs until stdin ends.
//   node hd-server-peer.js client <bootstrap> <server hex> <seed hex> <count> <session> [batch every_ms]
//       a hypertrace-logger Client whose sockets are hyperdht connections
//       from the key pair of <seed>; its trace session id is fixed to
//       <session> so that two runs write the same traces. Once connected,
//       traces <count> traces (all at once, or <batch> every <every_ms> ms); prints one
//       {"event":...} line per client event and {"traced":n} at the end.
//   node hd-server-peer.js jsserver <bootstrap> <folder> <seed hex>
//       the hypertrace-logger Server writing to <folder>, its DHT pointed at
//       <bootstrap> (hypertrace-logger's Server makes `new DHT()`, which
//       would join the public network: the module is swapped for a subclass
//       with our bootstrap list before the Server is loaded); prints
//       {"listening": hex}.
'use strict'
const { freePort } = require('./free-port')
const path = require('path')
const b4a = require('b4a')
const DHT = require('hyperdht')

const HOST = '127.0.0.1'
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const T0 = Date.now()
const note = (...a) => process.stderr.write('[' + process.argv[2] + ' ' + new Date().toISOString().slice(11, 23) + ' +' + (Date.now() - T0) + 'ms] ' + a.join(' ') + '\n')
const parseBootstrap = (s) => s.split(',').map((a) => {
  const i = a.lastIndexOf(':')
  return { host: a.slice(0, i), port: Number(a.slice(i + 1)) }
})

function untilStdinEnds () {
  return new Promise((resolve) => {
    process.stdin.on('data', () => {})
    process.stdin.on('end', resolve)
    process.stdin.on('close', resolve)
  })
}

async function testnet (size) {
  const nodes = []
  const bootstrap = []
  for (let i = 0; i < size; i++) {
    const node = new DHT({ ephemeral: false, firewalled: false, bootstrap, host: HOST, port: await freePort() })
    await node.fullyBootstrapped()
    if (i === 0) bootstrap.push({ host: HOST, port: node.address().port })
    nodes.push(node)
  }
  say({ bootstrap: bootstrap.map((b) => b.host + ':' + b.port).join(',') })
  await untilStdinEnds()
  for (const n of nodes) await n.destroy()
}

class Room {
  constructor (createTracer, name) { this.tracer = createTracer(this, { props: { name } }) }
  enter (i) { this.tracer.trace('enter', { i, even: i % 2 === 0, label: 'n' + i }) }
}

async function client (bootstrap, serverHex, seedHex, count, session, batch, every) {
  const { createTracer } = require('hypertrace')
  const Client = require('hypertrace-logger/client')
  const dht = new DHT({ bootstrap: parseBootstrap(bootstrap), host: HOST, port: await freePort() })
  // Connect only once bootstrapped (the routing table holds the testnet).
  // The node usually stays `firewalled` (its NAT ping may answer after the
  // bootstrap query ends, dht-rpc index.js:389-403): it relies on the
  // server's reply saying OPEN to connect directly (see jsserver()).
  await dht.fullyBootstrapped()
  note('bootstrapped, firewalled ' + dht.firewalled)
  const keyPair = DHT.keyPair(b4a.from(seedHex, 'hex'))
  const serverKey = b4a.from(serverHex, 'hex')
  const c = new Client()
  c._traceSessionId = session // fixed, so that two runs trace the same lines
  for (const ev of ['open', 'reconnect', 'close']) c.on(ev, () => say({ event: ev }))
  c.on('connection-error', (err) => say({ event: 'connection-error', code: err.code || null, message: err.message }))
  await c.start({
    createSocket: () => {
      note('connect')
      const s = dht.connect(serverKey, { keyPair })
      s.on('connect', () => note('socket connected to ' + s.rawStream.remoteHost + ':' + s.rawStream.remotePort + ' punches ' + JSON.stringify(dht.stats.punches)))
      s.on('error', (e) => note('socket error ' + e.code + ' ' + e.message))
      s.on('close', () => note('socket closed'))
      return s
    },
    getInitialProps: async () => ({ username: 'interop' })
  })
  // The Client keeps at most ~2048 traces while it has no connection
  // (client.js: `_buffer.splice(0, 1024)` above 2048), by design: trace
  // only once the server's handshake arrived, so that every trace counts.
  while (!c._tracingStream) await new Promise((resolve) => setTimeout(resolve, 10))
  say({ event: 'ready' })
  const room = new Room(createTracer, 'lobby')
  let i = 0
  if (!batch) {
    for (; i < count; i++) room.enter(i)
  } else {
    while (i < count) {
      for (let j = 0; j < batch && i < count; j++, i++) room.enter(i)
      await new Promise((resolve) => setTimeout(resolve, every))
    }
  }
  say({ traced: i })
  await untilStdinEnds()
  process.exit(0)
}

async function jsserver (bootstrap, folder, seedHex) {
  const list = parseBootstrap(bootstrap)
  // An explicit port (hyperdht's default is 49737, index.js:27, which tests
  // leave free) and `firewalled: false`: the JS Server then knows its
  // address (dht-rpc remoteAddress()), answers handshakes with firewall
  // OPEN and no holepunch (hyperdht server.js:373-375) and the client
  // connects straight to it (connect.js:203-212), as it does to ours.
  // Firewalled, the Server answers the client's relayed handshakes with a
  // LAN shortcut/holepunch on loopback that, in most runs on a loaded
  // machine, never opened its stream: the client's UDX packets went
  // unanswered until ETIMEDOUT (~13 s), then hypertrace-logger waited
  // 10-15 s to reconnect (client.js:68): the ~30 s slow mode of (a).
  const port = await freePort()
  class TestDHT extends DHT {
    constructor (opts = {}) { super({ bootstrap: list, host: HOST, port, firewalled: false, ...opts }) }
  }
  const loggerDir = path.dirname(require.resolve('hypertrace-logger/package.json'))
  require.cache[require.resolve('hyperdht', { paths: [loggerDir] })].exports = TestDHT
  // The Server logs every line it writes (DEBUG): silenced, so that a test
  // reading our stdout for one line is not flooded (and never blocks us).
  console.log = () => {}
  console.warn = () => {}
  const Server = require('hypertrace-logger/server')
  const server = new Server({ folder })
  const keyPair = DHT.keyPair(b4a.from(seedHex, 'hex'))
  await server.server.dht.fullyBootstrapped()
  await server.listen(keyPair)
  // Its remote address comes from the NAT samples of its bootstrap.
  for (let i = 0; i < 200 && !server.server.dht.remoteAddress(); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  note('listening, remote address ' + JSON.stringify(server.server.dht.remoteAddress()))
  server.server.on('connection', (s) => note('connection from ' + s.rawStream.remoteHost + ':' + s.rawStream.remotePort))
  say({ listening: b4a.toString(keyPair.publicKey, 'hex') })
  await untilStdinEnds()
  process.exit(0)
}

const [mode, ...args] = process.argv.slice(2)
const run = {
  testnet: () => testnet(Number(args[0] || 3)),
  client: () => client(args[0], args[1], args[2], Number(args[3]), args[4], Number(args[5] || 0), Number(args[6] || 0)),
  jsserver: () => jsserver(args[0], args[1], args[2])
}[mode]
run().catch((err) => { console.error(err); process.exit(1) })
