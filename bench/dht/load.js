// A dht-rpc load generator: sends N requests (PING and FIND_NODE, mixed) to
// one node over plain UDP, keeping W in flight, and prints one JSON line:
// answered/s, losses, error replies and latency percentiles.
//
//   node bench/dht/load.js --port P [--host 127.0.0.1] [--count 100000]
//        [--window 64] [--find-node 0.5] [--timeout 1000] [--give-up 5000]
//
// --find-node is the share of FIND_NODE requests (0..1). --give-up ms: stop
// early if no reply at all arrived for that long (a dead node would
// otherwise cost count / window * timeout ms).
//
// It does not use a dht-rpc node as the client: dht-rpc's congestion window
// (80 sends per 750 ms bucket, io.js:556-591) would cap it near 100
// requests/s. The datagrams still come from dht-rpc's own encoder
// (Request#send on a stub socket, as tests/interop/rpc-vectors.js does);
// per request only the tid (u16 LE at offset 2, io.js:541) is filled in,
// and replies are matched by their tid (io.js:110). The client's address
// stays the same, so the node's answers (tokens, closer nodes) are as in a
// real exchange. Bind 127.0.0.1 only; never use ports 49737-49741.
'use strict'
const dgram = require('dgram')
const path = require('path')
const { createRequire } = require('module')

const interop = createRequire(path.join(__dirname, '../../tests/interop/package.json'))
const IO = interop('dht-rpc/lib/io')
const { PING, FIND_NODE } = interop('dht-rpc/lib/commands')
const b4a = interop('b4a')
const sodium = interop('sodium-universal')

function args () {
  const o = { host: '127.0.0.1', port: 0, count: 100000, window: 64, findNode: 0.5, timeout: 1000, giveUp: 5000 }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-(.)/g, (_, c) => c.toUpperCase())
    if (!(k in o)) throw new Error('unknown option ' + argv[i])
    o[k] = typeof o[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1]
  }
  if (!(o.port > 0 && o.port < 65536)) throw new Error('--port is required')
  if (!(o.window >= 1 && o.window <= 65536)) throw new Error('--window must be 1..65536')
  return o
}

// Request datagrams from dht-rpc's encoder (an ephemeral client: no id).
function templates (to) {
  let captured = null
  const udx = { watchNetworkInterfaces: () => ({ destroy () {} }) }
  const io = new IO({ id: null, closest: () => [] }, udx, { onrequest () {} })
  io.clientSocket = io.serverSocket = { trySend (buf) { captured = b4a.from(buf) } }
  const make = (command, target) => {
    const req = io.createRequest(to, null, true, command, target, null)
    req.send(true)
    req.destroy() // clears its retry timer
    return captured
  }
  const ping = make(PING, null)
  // FIND_NODE toward 64 random targets, so the node's table lookups vary.
  const findNode = []
  for (let i = 0; i < 64; i++) {
    const target = b4a.alloc(32)
    sodium.randombytes_buf(target)
    findNode.push(make(FIND_NODE, target))
  }
  return { ping, findNode }
}

function main () {
  const o = args()
  const t = templates({ host: o.host, port: o.port })
  const socket = dgram.createSocket('udp4')
  const inflight = new Map() // tid -> { at, kind }
  const latencies = []
  let nextTid = 0
  let sent = 0
  let answered = 0
  let lost = 0
  let errors = 0
  let unmatched = 0
  let started = 0
  let lastReply = 0n
  let gaveUp = false

  function sendOne () {
    if (sent >= o.count) return
    while (inflight.has(nextTid)) nextTid = (nextTid + 1) & 0xffff
    const tid = nextTid
    nextTid = (nextTid + 1) & 0xffff
    const find = Math.random() < o.findNode
    const buf = b4a.from(find ? t.findNode[sent & 63] : t.ping)
    buf.writeUInt16LE(tid, 2)
    inflight.set(tid, { at: process.hrtime.bigint(), kind: find ? 'find_node' : 'ping' })
    sent++
    socket.send(buf, o.port, o.host)
  }

  function finishIfDone () {
    if (!gaveUp && (sent < o.count || inflight.size > 0)) return
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    latencies.sort((a, b) => a - b)
    const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null)
    process.stdout.write(JSON.stringify({
      sent,
      answered,
      gave_up: gaveUp,
      lost,
      errors,
      unmatched,
      window: o.window,
      find_node_share: o.findNode,
      seconds: Number(seconds.toFixed(3)),
      answered_per_s: Math.round(answered / seconds),
      latency_ms: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: pct(1) }
    }) + '\n')
    clearInterval(sweeper)
    socket.close()
  }

  socket.on('message', (buf) => {
    // 0x13 = a response (io.js:10); the tid follows the flags byte.
    if (buf.byteLength < 4 || buf[0] !== 0x13) { unmatched++; return }
    const tid = buf.readUInt16LE(2)
    const req = inflight.get(tid)
    if (!req) { unmatched++; return }
    inflight.delete(tid)
    lastReply = process.hrtime.bigint()
    answered++
    if (buf[1] & 8) errors++ // flag 8: an error code follows (io.js:505)
    latencies.push(Number(process.hrtime.bigint() - req.at) / 1e6)
    sendOne()
    finishIfDone()
  })

  // No retries: a request unanswered after --timeout ms counts as lost and
  // frees its slot.
  const sweeper = setInterval(() => {
    const now = process.hrtime.bigint()
    const limit = BigInt(o.timeout) * 1000000n
    for (const [tid, req] of inflight) {
      if (now - req.at < limit) continue
      inflight.delete(tid)
      lost++
      sendOne()
    }
    if (now - lastReply > BigInt(o.giveUp) * 1000000n) gaveUp = true
    finishIfDone()
  }, Math.max(10, Math.min(250, o.timeout / 4)))

  socket.bind(0, '127.0.0.1', () => {
    started = lastReply = process.hrtime.bigint()
    for (let i = 0; i < o.window; i++) sendOne()
  })
}

main()
