'use strict'
// Interop peer for tests/udx: one udx-native socket on 127.0.0.1, driven by
// JSON lines on stdin, reporting JSON lines on stdout.
//
// commands                                            events
//                                                      {event:'ready', port}
//   {cmd:'stream', id, remoteId, port}  connect        {event:'connected', id}
//   {cmd:'send', id, bytes, end}        write random   {event:'sent', id, bytes, sha256}
//   {cmd:'end', id}                     half-close     {event:'end', id, bytes, sha256}
//   {cmd:'destroy', id}                                {event:'close', id, error, bytes}
//                                       data after close {event:'late', id, bytes}
//   {cmd:'message', id, hex}            stream.send    {event:'message', id, hex}
//   {cmd:'datagram', port, hex}         socket.send    {event:'datagram', port, hex}
//   {cmd:'stats', id}                                  {event:'stats', id, ...}
//   {cmd:'cpu'}                         CPU used       {event:'cpu', us}
// Benchmarks pass hash:false to 'stream' (count only) and fast:true to
// 'send' (one random buffer reused) so that JS spends its time in UDX.
const UDX = require('udx-native')
const crypto = require('crypto')
const readline = require('readline')

const udx = new UDX()
const socket = udx.createSocket()
socket.bind(0, '127.0.0.1')
const streams = new Map()

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

socket.on('message', (buf, rinfo) => {
  out({ event: 'datagram', port: rinfo.port, hex: buf.toString('hex') })
})

function openStream(cmd) {
  const s = udx.createStream(cmd.id)
  const state = { s, hash: crypto.createHash('sha256'), received: 0 }
  streams.set(cmd.id, state)
  const hashing = cmd.hash !== false
  s.on('data', (d) => {
    // Nothing may be delivered once the stream closed (destroy tests).
    if (state.closed) out({ event: 'late', id: cmd.id, bytes: d.length })
    if (hashing) state.hash.update(d)
    state.received += d.length
  })
  s.on('end', () => {
    out({ event: 'end', id: cmd.id, bytes: state.received, sha256: state.hash.digest('hex') })
  })
  s.on('message', (m) => out({ event: 'message', id: cmd.id, hex: m.toString('hex') }))
  s.on('error', (err) => {
    state.error = err.code || err.message
  })
  s.on('close', () => {
    state.closed = true
    out({ event: 'close', id: cmd.id, error: state.error || null, bytes: state.received })
    streams.delete(cmd.id)
  })
  s.connect(socket, cmd.remoteId, cmd.port, '127.0.0.1')
  out({ event: 'connected', id: cmd.id })
}

async function send(cmd) {
  const { s } = streams.get(cmd.id)
  const hash = crypto.createHash('sha256')
  const reused = cmd.fast ? crypto.randomBytes(65536) : null
  let left = cmd.bytes
  while (left > 0) {
    const n = Math.min(left, 65536)
    const chunk = reused ? reused.subarray(0, n) : crypto.randomBytes(n)
    if (!reused) hash.update(chunk)
    left -= n
    if (!s.write(chunk)) await new Promise((resolve) => s.once('drain', resolve))
  }
  if (cmd.end) s.end()
  out({ event: 'sent', id: cmd.id, bytes: cmd.bytes, sha256: hash.digest('hex') })
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  if (!line.trim()) return
  const cmd = JSON.parse(line)
  const st = streams.get(cmd.id)
  switch (cmd.cmd) {
    case 'stream': return openStream(cmd)
    case 'send': return send(cmd)
    case 'end': return st && st.s.end()
    case 'destroy': return st && st.s.destroy()
    case 'message': return st && st.s.trySend(Buffer.from(cmd.hex, 'hex'))
    case 'datagram': return socket.trySend(Buffer.from(cmd.hex, 'hex'), cmd.port, '127.0.0.1')
    case 'stats':
      return out({ event: 'stats', id: cmd.id, rtoCount: st ? st.s.rtoCount : -1, retransmits: st ? st.s.retransmits : -1, mtu: st ? st.s.mtu : -1 })
    case 'cpu': {
      const u = process.cpuUsage()
      return out({ event: 'cpu', us: u.user + u.system })
    }
    case 'exit':
      process.exit(0)
  }
})
rl.on('close', () => process.exit(0))

out({ event: 'ready', port: socket.address().port })
