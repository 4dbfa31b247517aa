// Decodes dht-rpc datagrams with dht-rpc 6.27.0's own decoders, for the C++
// interop test of our encoder: reads one hex datagram per stdin line, writes
// one JSON line per datagram, in order:
//   {"kind":"request"|"response", ...fields as in tests/rpc/vectors.json}
//   {"kind":null} if dht-rpc drops it.
// Requests go through Request.decode (io.js:380), responses through
// IO#onmessage -> decodeReply (io.js:83-146, 608) with a pending request of
// that tid. The sender is always FROM below: dht-rpc keeps an id only if it
// is FROM's node id (io.js:627), so the C++ side sends that id or none.
'use strict'
const readline = require('readline')
const b4a = require('b4a')
const IO = require('dht-rpc/lib/io')

const FROM = { host: '10.9.8.7', port: 4567 }
const hex = (b) => (b === null || b === undefined ? null : b4a.toString(b, 'hex'))
const addr = (a) => ({ host: a.host, port: a.port })

const udx = { watchNetworkInterfaces: () => ({ destroy () {} }) }
const io = new IO({ id: null, closest: () => [] }, udx, { onrequest () {} })
io.clientSocket = io.serverSocket = { trySend () {} }
// A request object only to reach the Request class (it is not exported).
const Request = io.createRequest(FROM, null, true, 0, null, null).constructor
io.inflight.length = 0

function decode (buf) {
  if (buf.byteLength >= 1 && buf[0] === 0x03) {
    const r = Request.decode(io, io.serverSocket, { id: null, ...FROM }, { start: 1, end: buf.byteLength, buffer: buf })
    if (r === null) return { kind: null }
    return {
      kind: 'request',
      tid: r.tid,
      to: addr(r.to),
      id: hex(r.from.id),
      token: hex(r.token),
      internal: r.internal,
      command: r.command,
      target: hex(r.target),
      value: hex(r.value)
    }
  }
  if (buf.byteLength >= 4 && buf[0] === 0x13) {
    // A pending request with the datagram's tid, so that onmessage matches it.
    io._tid = buf.readUInt16LE(2)
    const req = io.createRequest(FROM, null, true, 0, null, null)
    let res = null
    req.onresponse = (r) => { res = r }
    io.onmessage(io.clientSocket, buf, { ...FROM })
    req.destroy()
    if (res === null) return { kind: null }
    return {
      kind: 'response',
      tid: res.tid,
      to: addr(res.to),
      id: hex(res.from.id),
      token: hex(res.token),
      closer_nodes: (res.closerNodes || []).map(addr),
      error: res.error,
      value: hex(res.value)
    }
  }
  return { kind: null }
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  process.stdout.write(JSON.stringify(decode(b4a.from(line.trim(), 'hex'))) + '\n')
})
