// The JS reference node for dht-rpc benchmarks: a dht-rpc 6.27.0 node as
// DHT.bootstrapper() makes one (persistent, unfirewalled, sends its id),
// bound to 127.0.0.1:<port>, bootstrap [] (it never talks to the public
// network).
//
//   node bench/dht/js-node.js --port P [--fill N]
//
// Prints {"ready":true,"port":P,"id":"<hex>"} once bound. On SIGTERM,
// SIGINT or when stdin (a pipe) closes it prints one JSON line with the CPU time it
// used (process.cpuUsage, microseconds) and what it served, then exits.
// --fill N adds N made-up nodes (127.0.0.1, ports 20000+i: nothing listens
// there) to its routing table, so that FIND_NODE replies carry closer nodes
// (up to 20) as on a populated node. The node pings some of them every 40 s
// and drops them when they do not answer: keep runs shorter than that, or
// expect that noise.
'use strict'
const fs = require('fs')
const path = require('path')
const { createRequire } = require('module')

const interop = createRequire(path.join(__dirname, '../../tests/interop/package.json'))
const DHT = interop('dht-rpc')
const b4a = interop('b4a')

const o = { port: 0, fill: 0 }
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '')
  if (!(k in o)) throw new Error('unknown option ' + argv[i])
  o[k] = Number(argv[i + 1])
}
if (!(o.port > 0 && o.port < 65536)) throw new Error('--port is required')
if (o.port >= 49737 && o.port <= 49741) throw new Error('ports 49737-49741 are reserved')

const cpuStart = process.cpuUsage()
const node = DHT.bootstrapper(o.port, '127.0.0.1', { host: '127.0.0.1' })
// Requests received, by internal command (user commands under "user"):
// counted where IO hands decoded requests to the node (io.js:102).
const received = { ping: 0, find_node: 0, other_internal: 0, user: 0 }
const onrequest = node.io.onrequest
node.io.onrequest = (req, external) => {
  if (!req.internal) received.user++
  else if (req.command === 0) received.ping++
  else if (req.command === 2) received.find_node++
  else received.other_internal++
  onrequest(req, external)
}

let stopping = false
async function stop (why) {
  if (stopping) return
  stopping = true
  const cpu = process.cpuUsage(cpuStart)
  process.stdout.write(JSON.stringify({
    stopped: why,
    cpu_user_us: cpu.user,
    cpu_system_us: cpu.system,
    cpu_total_us: cpu.user + cpu.system,
    received,
    table_size: node.table.toArray().length
  }) + '\n')
  await node.destroy()
  process.exit(0)
}

node.ready().then(() => {
  for (let i = 0; i < o.fill; i++) node.addNode({ host: '127.0.0.1', port: 20000 + i })
  const a = node.address()
  process.stdout.write(JSON.stringify({ ready: true, port: a.port, id: b4a.toString(node.id, 'hex') }) + '\n')
})

process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
// Watch stdin only when it is a pipe (a harness holding the other end), not
// when it is /dev/null or a terminal.
if (fs.fstatSync(0).isFIFO()) {
  process.stdin.on('end', () => stop('stdin closed'))
  process.stdin.on('close', () => stop('stdin closed'))
  process.stdin.resume()
}
