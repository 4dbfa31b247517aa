// Runs the npm hypertrace-logger Client (the JS reference) over a fake
// socket for a fixed sequence of inputs, and prints every trace it writes,
// one JSON text per line, then "END". tests/client/test_interop.cpp feeds
// the same inputs to our C++ client and compares the texts.
'use strict'
const { EventEmitter } = require('events')
const { createTracer } = require('hypertrace')
const Client = require('hypertrace-logger/client')

class FakeSocket extends EventEmitter {
  constructor () { super(); this.writes = [] }
  setKeepAlive () {}
  write (data) { this.writes.push(data.toString()) }
  destroy () {}
}

class Room {
  constructor (props) { this.tracer = createTracer(this, { props }) }
  join (id, props) { this.tracer.trace(id, props) }
  leave () { this.tracer.trace() }
}

class Door {
  constructor (parent) { this.tracer = createTracer(this, { parent: parent && parent.tracer }) }
  open (id, props) { this.tracer.trace(id, props) }
}

async function main () {
  const socket = new FakeSocket()
  const client = new Client()
  await client.start({
    createSocket: () => socket,
    getInitialProps: async () => ({ app: 'shop', v: 1 })
  })

  const err = new Error('boom')
  err.code = 'EBOOM'
  const room1 = new Room({ name: 'lobby', n: 1.5 })
  room1.join('join', {
    user: 7,
    buf: Buffer.from([1, 2, 254, 255]),
    err,
    plain: new Error('no code'),
    big: 1e21,
    small: 1e-7,
    tenth: 0.1,
    neg: -42.25,
    s: 'h\u00e9\u20ac\u{1F600}\u0001\n"\\/',
    nested: { a: [1, null, true, false, 'x'], b: {} }
  })
  room1.leave()
  socket.emit('open')
  socket.emit('data', Buffer.from(JSON.stringify({ lastSeenTraceSessionId: null, lastSeenTraceNumber: null })))
  client.addProps({ v: 2, user: 'ann' })
  const door = new Door(room1)
  door.open('open', null)
  const room2 = new Room()
  room2.join('', { x: 1 })
  client.addTrace({
    id: 'manual',
    object: { className: 'Worker', id: 42, props: { pid: 7 } },
    caller: { filename: '/app/worker.js', functionName: 'run', props: { ok: true } }
  })
  for (const w of socket.writes) process.stdout.write(w + '\n')
  process.stdout.write('END\n')
  client.stop()
}

main().catch(err => { console.error(err); process.exit(1) })
