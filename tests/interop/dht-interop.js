// The JS dht-rpc side of the C++ dht node's interop tests
// (tests/dht/test_interop.cpp), driven over JSON lines on stdin/stdout.
// Every node binds 127.0.0.1 and gets an explicit bootstrap list.
//
//   node dht-interop.js testnet <size> [host:port]
//     size HyperDHT nodes made as hyperdht/testnet.js makes them
//     (ephemeral: false, firewalled: false, one after the other, each
//     awaiting fullyBootstrapped()), through the bootstrap node given, else
//     through a JS DHT.bootstrapper (then nodes[0], counted in size); prints {"bootstrap": [...], "nodes": [...]}.
//     Not createTestnet itself: its nodes take hyperdht's default ports
//     49737-49741, which tests must leave free; ours get explicit ports.
//   node dht-interop.js probe
//     a JS DHT.bootstrapper (the reference) and an ephemeral requester;
//     prints {"reference": {host, port}}.
//
// Commands (one JSON object per line):
//   {"op":"nodes"}                       -> {"nodes":[{host,port,id,ephemeral}]}
//   {"op":"query","from":i,"target":hex} -> {"closest":[id hex...]}  (findNode)
//   {"op":"table","from":i}              -> {"table":["host:port"...]}
//   {"op":"timed","count":n}             -> {"ms":[...]}: n findNode queries
//        one after the other, from node i % size, random targets (benchmark)
//   {"op":"probe","to":{host,port}}      -> one line per probe, then {"done":true}:
//        {"name", "ours": outcome at `to`, "js": outcome at the reference}
//   {"op":"quit"}
const readline = require('readline')
const { freePort } = require('./free-port')
const DHT = require('dht-rpc')
const HyperDHT = require('hyperdht')
const b4a = require('b4a')
const c = require('compact-encoding')

const HOST = '127.0.0.1'
const [mode, ...args] = process.argv.slice(2)
const hex = (b) => (b ? b4a.toString(b, 'hex') : null)
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n')

function parseHostPort(s) {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
}

function nodeInfo(n) {
  const a = n.address()
  return { host: HOST, port: a.port, id: hex(n.id), ephemeral: n.ephemeral }
}

// One request and what came back, reduced to what must match between two
// implementations answering the same request.
async function outcome(requester, to, p) {
  const req = requester.io.createRequest(
    { id: null, host: to.host, port: to.port },
    null, p.internal, p.command, p.target || null, p.value || null, null)
  if (p.socket === 'server') req.socket = requester.io.serverSocket
  req.retries = 0
  const started = Date.now()
  try {
    const res = await new Promise((resolve, reject) => {
      req.onresponse = resolve
      req.onerror = reject
      req.send()
    })
    const elapsed = Date.now() - started
    return {
      answered: true,
      error: res.error,
      sendsId: res.from.id !== null,
      token: res.token !== null,
      closerNodes: res.closerNodes ? res.closerNodes.length : 0,
      value: hex(res.value),
      sawUs: res.to ? `${res.to.host}:${res.to.port}` : null,
      delayed: p.minDelay ? elapsed >= p.minDelay : undefined
    }
  } catch (err) {
    return { answered: false, why: err.code || err.message }
  }
}

function u16(n) {
  const b = b4a.alloc(2)
  c.uint16.encode({ start: 0, end: 2, buffer: b }, n)
  return b
}
function u32(n) {
  const b = b4a.alloc(4)
  c.uint32.encode({ start: 0, end: 4, buffer: b }, n)
  return b
}

function probes(requester, reference) {
  const target = b4a.alloc(32, 7)
  const ipv4 = (host, port) => {
    const b = b4a.alloc(6)
    const parts = host.split('.').map(Number)
    for (let i = 0; i < 4; i++) b[i] = parts[i]
    b[4] = port & 255
    b[5] = port >> 8
    return b
  }
  return [
    { name: 'PING', internal: true, command: 0 },
    { name: 'PING with a value', internal: true, command: 0, value: b4a.alloc(10) },
    { name: 'PING_NAT to our other socket', internal: true, command: 1,
      value: u16(requester.io.serverSocket.address().port) },
    { name: 'PING_NAT port 0', internal: true, command: 1, value: u16(0) },
    { name: 'PING_NAT short value', internal: true, command: 1, value: b4a.alloc(1) },
    { name: 'FIND_NODE', internal: true, command: 2, target },
    { name: 'FIND_NODE without target', internal: true, command: 2 },
    { name: 'DOWN_HINT', internal: true, command: 3, value: ipv4(HOST, reference.port) },
    { name: 'DOWN_HINT short value', internal: true, command: 3, value: b4a.alloc(5) },
    { name: 'DELAYED_PING 300 ms', internal: true, command: 4, value: u32(300), minDelay: 300 },
    { name: 'DELAYED_PING over the 10 s cap', internal: true, command: 4, value: u32(10001) },
    { name: 'unknown internal command', internal: true, command: 42 },
    { name: 'unknown internal command with target', internal: true, command: 42, target },
    { name: 'unknown user command', internal: false, command: 77 },
    { name: 'unknown user command with target', internal: false, command: 77, target,
      value: b4a.from('hi') }
  ]
}

async function main() {
  let nodes = []
  let requester = null
  let reference = null
  const cleanup = []

  if (mode === 'testnet') {
    const size = Number(args[0])
    let bootstrap
    if (args[1]) {
      bootstrap = [parseHostPort(args[1])]
    } else {
      const port = await freePort()
      const boot = HyperDHT.bootstrapper(port, HOST, { host: HOST })
      await boot.fullyBootstrapped()
      cleanup.push(() => boot.destroy())
      bootstrap = [{ host: HOST, port }]
      nodes.push(boot) // a node of the network like the others (size counts it)
    }
    while (nodes.length < size) {
      const node = new HyperDHT({
        ephemeral: false,
        firewalled: false,
        bootstrap,
        host: HOST,
        port: await freePort()
      })
      await node.fullyBootstrapped()
      nodes.push(node)
    }
    cleanup.unshift(async () => {
      for (let i = nodes.length - 1; i >= 0; i--) await nodes[i].destroy()
    })
    print({ bootstrap: bootstrap.map((b) => `${b.host}:${b.port}`), nodes: nodes.map(nodeInfo) })
  } else if (mode === 'probe') {
    const port = await freePort()
    reference = DHT.bootstrapper(port, HOST, { host: HOST })
    await reference.fullyBootstrapped()
    requester = new DHT({ bootstrap: [], host: HOST, ephemeral: true })
    await requester.fullyBootstrapped()
    cleanup.push(() => requester.destroy(), () => reference.destroy())
    print({ reference: { host: HOST, port }, id: hex(reference.id) })
  } else {
    throw new Error('mode: testnet | probe')
  }

  const rl = readline.createInterface({ input: process.stdin })
  for await (const line of rl) {
    if (!line.trim()) continue
    const cmd = JSON.parse(line)
    if (cmd.op === 'quit') break
    if (cmd.op === 'nodes') {
      print({ nodes: nodes.map(nodeInfo) })
    } else if (cmd.op === 'query') {
      const q = nodes[cmd.from].findNode(b4a.from(cmd.target, 'hex'))
      await q.finished()
      print({ closest: q.closestReplies.map((r) => hex(r.from.id)) })
    } else if (cmd.op === 'timed') {
      const ms = []
      for (let i = 0; i < cmd.count; i++) {
        const target = b4a.alloc(32)
        for (let j = 0; j < 32; j++) target[j] = Math.floor(Math.random() * 256)
        const started = process.hrtime.bigint()
        const q = nodes[i % nodes.length].findNode(target)
        await q.finished()
        ms.push(Number(process.hrtime.bigint() - started) / 1e6)
      }
      print({ ms })
    } else if (cmd.op === 'table') {
      print({ table: nodes[cmd.from].toArray().map((n) => `${n.host}:${n.port}`) })
    } else if (cmd.op === 'probe') {
      for (const p of probes(requester, reference.address())) {
        const [ours, js] = await Promise.all([
          outcome(requester, cmd.to, p),
          outcome(requester, { host: HOST, port: reference.address().port }, p)
        ])
        print({ name: p.name, ours, js })
      }
      print({ done: true })
    }
  }
  for (const f of cleanup) await f()
  process.exit(0)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
