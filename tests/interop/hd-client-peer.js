// The JS side of tests/hd_client/test_interop.cpp: a hypertrace-logger
// 1.1.1 Server (the npm package, unchanged) whose DHT joins a local network
// on 127.0.0.1 instead of the public one.
//
//   node hd-client-peer.js <folder> [host:port,...]
//
// Without a bootstrap list it first builds a small JS network (a
// DHT.bootstrapper and two persistent nodes, as hyperdht/testnet.js makes
// them, but on free ports: createTestnet's later nodes take hyperdht's
// default ports 49737-49741, which tests must leave free). With one, the
// only DHT nodes besides the server are the ones given (ours).
//
// Prints {"publicKey", "bootstrap"} once the server listens, then waits for
// stdin to close, closes everything and prints {"closed": true}.
const readline = require('readline')
const { freePort } = require('./free-port')
const b4a = require('b4a')

const HOST = '127.0.0.1'
const [folder, bootArg] = process.argv.slice(2)
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n')

async function main () {
  const HyperDHT = require('hyperdht')
  const cleanup = []
  let bootstrap
  if (bootArg) {
    bootstrap = bootArg.split(',').map((s) => {
      const i = s.lastIndexOf(':')
      return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
    })
  } else {
    const port = await freePort()
    const boot = HyperDHT.bootstrapper(port, HOST, { host: HOST })
    await boot.fullyBootstrapped()
    bootstrap = [{ host: HOST, port }]
    const nodes = [boot]
    while (nodes.length < 3) {
      const node = new HyperDHT({ ephemeral: false, firewalled: false, bootstrap, host: HOST, port: await freePort() })
      await node.fullyBootstrapped()
      nodes.push(node)
    }
    cleanup.push(async () => { for (let i = nodes.length - 1; i >= 0; i--) await nodes[i].destroy() })
  }

  // hypertrace-logger's Server calls `new DHT()` (the public network): give
  // every DHT made from here on our bootstrap list and loopback.
  const path = require.resolve('hyperdht')
  class LocalDHT extends HyperDHT {
    constructor (opts = {}) { super({ bootstrap, host: HOST, ...opts }) }
  }
  require.cache[path].exports = LocalDHT

  // The Server logs every trace on stdout: keep stdout for our JSON lines.
  console.log = () => {}

  const { Server } = require('hypertrace-logger')
  const keyPair = HyperDHT.keyPair(b4a.alloc(32, 7))
  const server = new Server({ folder })
  await server.listen(keyPair)
  print({ publicKey: b4a.toString(keyPair.publicKey, 'hex'), bootstrap: bootstrap.map((b) => `${b.host}:${b.port}`) })

  const rl = readline.createInterface({ input: process.stdin })
  for await (const line of rl) { if (line === 'quit') break }
  await server.close()
  await server.server.dht.destroy()
  for (const f of cleanup) await f()
  print({ closed: true })
  process.exit(0)
}

main().catch((e) => { process.stderr.write(String(e && e.stack) + '\n'); process.exit(1) })
