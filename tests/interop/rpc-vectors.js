// Prints, as one JSON line, vectors of dht-rpc 6.27.0 for the C++ tests
// (tests/rpc/vectors.json is this output):
//   requests/responses: datagrams produced by dht-rpc's own encoder
//     (lib/io.js Request#send -> _encodeRequest, Request#reply/#error/
//     #sendReply -> _sendReply) on stub sockets that capture the bytes, and
//     read back through its own decoders (Request.decode, and IO#onmessage ->
//     decodeReply) to check the fields listed next to each vector;
//   node_ids: lib/peer.js id();
//   tokens: IO#token with fixed secrets, across IO#_drain rotations;
//   nat: nat-sampler's state after every add() of fixed and seeded sequences.
// Nothing here encodes by hand: every byte comes from the pinned packages.
'use strict'
const assert = require('assert')
const b4a = require('b4a')
const IO = require('dht-rpc/lib/io')
const peer = require('dht-rpc/lib/peer')
const NatSampler = require('nat-sampler')

const hex = (b) => (b === null || b === undefined ? null : b4a.toString(b, 'hex'))
const fill = (n) => b4a.alloc(32, n)
const addr = (host, port) => ({ host, port })

// IO needs a udx only for watchNetworkInterfaces() (io.js:39).
const udx = { watchNetworkInterfaces: () => ({ destroy () {} }) }

function makeIO ({ ephemeral = true, firewalled = true, id = null, closest = [] } = {}) {
  const table = { id, closest: () => closest }
  const io = new IO(table, udx, { firewalled, onrequest () {} })
  io.ephemeral = ephemeral
  const sent = []
  const socket = (name) => ({
    name,
    trySend (buf, port, host) { sent.push({ socket: name, buf: b4a.from(buf), to: addr(host, port) }) }
  })
  io.serverSocket = socket('server')
  io.clientSocket = socket('client')
  io._secrets = [fill(0xa0), fill(0xa1)]
  return { io, sent }
}

// ---- requests ---------------------------------------------------------------
function requestVector (name, f) {
  // The sender's id goes out only from a non-ephemeral node's server socket
  // (io.js:521): an unfirewalled, non-ephemeral IO sends from it.
  const from = addr('10.1.2.3', 40001)
  const persistent = f.id !== undefined
  const { io, sent } = makeIO({
    ephemeral: !persistent,
    firewalled: !persistent,
    id: persistent ? peer.id(from.host, from.port) : null
  })
  io._tid = f.tid
  const req = io.createRequest(f.to, f.token || null, f.internal, f.command, f.target || null, f.value === undefined ? null : f.value)
  req.send(true)
  req.destroy() // clears the retry timer; onerror is a no-op
  const { buf } = sent.pop()

  // Read it back with dht-rpc's decoder; `from` is the address the id was
  // derived from, so the decoder keeps it (io.js:392, 627).
  const state = { start: 1, end: buf.byteLength, buffer: buf }
  const d = req.constructor.decode(io, io.serverSocket, { id: null, ...from }, state)
  assert(d !== null && buf[0] === 0x03)
  const fields = {
    tid: d.tid,
    to: addr(d.to.host, d.to.port),
    id: hex(d.from.id),
    token: hex(d.token),
    internal: d.internal,
    command: d.command,
    target: hex(d.target),
    value: hex(d.value)
  }
  assert.deepStrictEqual(fields, {
    tid: f.tid,
    to: f.to,
    id: persistent ? hex(peer.id(from.host, from.port)) : null,
    token: hex(f.token || null),
    internal: f.internal,
    command: f.command,
    target: hex(f.target || null),
    value: f.value === undefined || f.value === null ? null : hex(f.value)
  })
  return { name, hex: hex(buf), ...fields }
}

function requests () {
  const to = addr('127.0.0.1', 49737)
  const out = []
  const add = (name, f) => out.push(requestVector(name, { to, ...f }))
  add('ping', { tid: 0, internal: true, command: 0 })
  add('ping with id', { tid: 1, internal: true, command: 0, id: true })
  add('ping_nat', { tid: 0x1234, internal: true, command: 1, value: b4a.from('3412', 'hex') })
  add('find_node', { tid: 0xffff, internal: true, command: 2, target: fill(0x11) })
  add('find_node with id', { tid: 7, internal: true, command: 2, target: fill(0x11), id: true })
  add('down_hint', { tid: 8, internal: true, command: 3, value: b4a.from('0a000001d204', 'hex') })
  add('delayed_ping', { tid: 9, internal: true, command: 4, value: b4a.from('e8030000', 'hex') })
  add('user command 0 (peer_handshake)', { tid: 10, internal: false, command: 0, target: fill(0x22), value: b4a.from('00010203', 'hex') })
  add('user command with token', { tid: 11, internal: false, command: 4, target: fill(0x22), token: fill(0x33), value: b4a.from('ff', 'hex') })
  add('everything', { tid: 12, internal: false, command: 9, target: fill(0x44), token: fill(0x55), id: true, value: b4a.alloc(300, 0x66) })
  add('empty value', { tid: 13, internal: false, command: 2, value: b4a.alloc(0) })
  add('value of 252 bytes (1-byte length)', { tid: 21, internal: false, command: 3, value: b4a.alloc(252, 1) })
  add('value of 253 bytes (3-byte length)', { tid: 22, internal: false, command: 3, value: b4a.alloc(253, 2) })
  add('command 0xfc', { tid: 14, internal: false, command: 0xfc })
  add('command 0xfd', { tid: 15, internal: true, command: 0xfd })
  add('command 2^32', { tid: 16, internal: false, command: 2 ** 32 })
  add('command 2^53-1', { tid: 17, internal: false, command: 2 ** 53 - 1, target: fill(1) })
  add('internal unknown command', { tid: 18, internal: true, command: 5 })
  out.push(requestVector('other to', { tid: 19, to: addr('255.254.0.1', 1), internal: true, command: 0 }))
  out.push(requestVector('to port 0', { tid: 20, to: addr('0.0.0.0', 0), internal: true, command: 0 }))
  return out
}

// ---- responses --------------------------------------------------------------
const nodes = (n) => Array.from({ length: n }, (_, i) => ({ id: null, host: `10.0.${i}.${i + 1}`, port: 1000 + i }))

function responseVector (name, f) {
  const requester = addr('192.168.7.8', 50123)
  // The responder: persistent (sends its id) when f.id, answering on its
  // server socket; its table returns f.closer for any target.
  const responder = addr('127.0.0.1', 49737)
  const { io, sent } = makeIO({
    ephemeral: !f.id,
    firewalled: false,
    id: peer.id(responder.host, responder.port),
    closest: nodes(f.closer || 0)
  })
  // The request it answers, built and read by dht-rpc itself.
  const client = makeIO({})
  client.io._tid = f.tid
  const out = client.io.createRequest(responder, null, true, f.closer !== undefined ? 2 : 0, f.closer !== undefined ? fill(0x77) : null, null)
  out.send(true)
  const reqBuf = client.sent.pop().buf
  const req = out.constructor.decode(io, io.serverSocket, { id: null, ...requester },
    { start: 1, end: reqBuf.byteLength, buffer: reqBuf })
  f.send(req)
  const { buf } = sent.pop()

  // Read it back through IO#onmessage -> decodeReply, as the requester would.
  let res = null
  out.onresponse = (r) => { res = r }
  client.io.onmessage(client.io.clientSocket, buf, responder)
  assert(res !== null && buf[0] === 0x13)
  const fields = {
    tid: res.tid,
    to: addr(res.to.host, res.to.port),
    id: hex(res.from.id),
    token: hex(res.token),
    closer_nodes: (res.closerNodes || []).map((n) => addr(n.host, n.port)),
    error: res.error,
    value: hex(res.value)
  }
  assert.deepStrictEqual(fields.to, requester)
  return { name, hex: hex(buf), ...fields }
}

function responses () {
  const out = []
  const add = (name, f) => out.push(responseVector(name, f))
  // reply(value, opts): a token unless opts.token === false, closer nodes when
  // the request had a target (io.js:413-417).
  add('empty reply', { tid: 0, send: (r) => r.reply(null, { token: false }) })
  add('reply with token', { tid: 1, send: (r) => r.reply(null) })
  add('reply with id and token', { tid: 2, id: true, send: (r) => r.reply(null) })
  add('reply with value', { tid: 3, send: (r) => r.reply(b4a.from('cafe', 'hex'), { token: false }) })
  add('reply with empty value', { tid: 4, send: (r) => r.reply(b4a.alloc(0), { token: false }) })
  add('find_node reply, 0 closer nodes', { tid: 5, closer: 0, send: (r) => r.reply(null) })
  add('find_node reply, 1 closer node', { tid: 6, closer: 1, send: (r) => r.reply(null) })
  add('find_node reply, 20 closer nodes', { tid: 0xfffe, closer: 20, id: true, send: (r) => r.reply(null) })
  add('reply with closer nodes off', { tid: 7, closer: 3, send: (r) => r.reply(null, { closerNodes: false }) })
  add('error unknown command', { tid: 8, send: (r) => r.error(1) })
  add('error invalid token with token', { tid: 9, send: (r) => r.error(2, { token: true }) })
  add('error with closer nodes', { tid: 10, closer: 2, send: (r) => r.error(1) })
  add('error 0xfd', { tid: 11, send: (r) => r.error(0xfd) })
  add('error 2^53-1', { tid: 12, send: (r) => r.error(2 ** 53 - 1) })
  // sendReply(error, value, token, hasCloserNodes) sets every field at once.
  add('everything', { tid: 13, id: true, closer: 4, send: (r) => r.sendReply(3, b4a.alloc(260, 0x5a), true, true) })
  add('error and value', { tid: 14, send: (r) => r.sendReply(7, b4a.from('01', 'hex'), false, false) })
  return out
}

// ---- node ids ---------------------------------------------------------------
function nodeIds () {
  const list = [addr('127.0.0.1', 49737), addr('127.0.0.1', 49738), addr('0.0.0.0', 0),
    addr('255.255.255.255', 65535), addr('88.99.3.86', 49737), addr('10.1.2.3', 40001)]
  return list.map((a) => ({ ...a, id: hex(peer.id(a.host, a.port)) }))
}

// ---- tokens -----------------------------------------------------------------
function tokens () {
  const { io } = makeIO({})
  const secrets = [fill(0x01), fill(0x02)]
  io._secrets = [b4a.from(secrets[0]), b4a.from(secrets[1])]
  const hosts = ['127.0.0.1', '10.0.0.1', '192.168.100.200']
  const epochs = []
  // Epoch 0 is the initial secrets; each later one follows 10 drains (7.5 s).
  for (let e = 0; e < 4; e++) {
    epochs.push({
      secrets: [hex(io._secrets[0]), hex(io._secrets[1])],
      tokens: hosts.map((host) => ({ host, current: hex(io.token({ host }, 1)), previous: hex(io.token({ host }, 0)) }))
    })
    for (let i = 0; i < 9; i++) {
      const before = hex(io._secrets[1])
      io._drain()
      assert.strictEqual(hex(io._secrets[1]), before) // no rotation before the 10th
    }
    io._drain()
  }
  return { initial: [hex(secrets[0]), hex(secrets[1])], drains_per_rotation: 10, epochs }
}

// ---- nat-sampler ------------------------------------------------------------
function natSequences () {
  const seqs = []
  const run = (name, samples) => {
    const s = new NatSampler()
    const steps = samples.map(([host, port]) => {
      s.add(host, port)
      return { host, port, out_host: s.host, out_port: s.port, size: s.size }
    })
    seqs.push({ name, steps })
  }
  const rep = (n, f) => Array.from({ length: n }, (_, i) => f(i))
  run('consistent', rep(40, () => ['1.2.3.4', 5000]))
  run('random ports', rep(40, (i) => ['1.2.3.4', 5000 + i]))
  run('two hosts alternating', rep(40, (i) => [i & 1 ? '1.2.3.4' : '5.6.7.8', 5000]))
  run('switch host after 20', rep(60, (i) => [i < 20 ? '1.2.3.4' : '9.9.9.9', 7000]))
  run('port 0', rep(20, () => ['1.2.3.4', 0]))
  run('one outlier in four', rep(40, (i) => (i % 4 === 3 ? ['6.6.6.6', 1] : ['1.2.3.4', 5000])))
  run('ports alternate', rep(40, (i) => ['1.2.3.4', i & 1 ? 5000 : 5001]))
  // Runs of the dominant address broken by gaps of 1-5 outliers (the same
  // host on other ports, or other hosts): whether a vote joins its tally
  // depends on the look-back of 4, and the totals sit near the thresholds.
  for (const r of [2, 4, 8, 12, 13, 14]) {
    for (let g = 1; g <= 5; g++) {
      for (const otherHost of [false, true]) {
        let n = 0
        run(`runs of ${r}, gaps of ${g}${otherHost ? ', other hosts' : ''}`, rep(48, (i) => {
          if (i % (r + g) < r) return ['1.2.3.4', 5000]
          n++
          return [otherHost ? `7.7.7.${n % 7}` : '1.2.3.4', 6000 + (n % 5)]
        }))
      }
    }
  }
  // Seeded sequences over small pools, so that the look-back window of four
  // votes, evictions and leader changes all happen.
  let x = 0x2545f491
  const rnd = (n) => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    return x % n
  }
  for (let k = 0; k < 40; k++) {
    const hosts = rep(1 + rnd(3), (i) => `10.0.0.${i + 1}`)
    const ports = rep(1 + rnd(4), (i) => (i === 3 ? 0 : 4000 + i))
    const bias = rnd(10)
    run(`seeded ${k}`, rep(20 + rnd(60), () => (rnd(10) < bias ? [hosts[0], ports[0]] : [hosts[rnd(hosts.length)], ports[rnd(ports.length)]])))
  }
  return seqs
}

process.stdout.write(JSON.stringify({
  requests: requests(),
  responses: responses(),
  node_ids: nodeIds(),
  tokens: tokens(),
  nat: natSequences()
}) + '\n')
